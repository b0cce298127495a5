"""What runs inside the sandbox, on the submission's hand-ins: the hidden tests' checker.

Everything else of ``grading`` runs on the grader's side (the host): it builds the sandbox
(``grading.sandbox``), starts nbgrader and the kernel, and reads what comes back. This package is
what the confined checker imports: it reads only what the submission's test cells handed in,
and the secret seed on its standard input.
"""
