"""Running generated code: on the host now; QEMU and Renode later."""
