"""Contributor tools: the book, notebook hygiene and Colab links, README numbers and pictures, legibility."""
