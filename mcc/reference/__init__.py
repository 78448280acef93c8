"""Python golden model: fixed-point arithmetic, numpy reference kernels, IR interpreter."""
