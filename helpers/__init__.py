"""Helpers for the transfer-learning course: what the lectures and the exercise share.

Importing the package imports nothing else. Modules that use TensorFlow import
:mod:`helpers.quiet` first, which imports it without its import notices.
"""
