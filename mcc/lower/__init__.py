"""Lowering: IR ops to kernel parameter records (every number the kernels need)."""
