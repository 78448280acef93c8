/* Host I/O of the mcc Cortex-M harness (main.c): the command line, files on the host, diagnostics.
 *
 * semihost.c implements it with Arm semihosting (a `bkpt 0xAB` trap served by QEMU or a debugger),
 * without the C library's stdio: no FILE, no buffers, no malloc. To run the harness on a board
 * without a debugger, replace semihost.c with an implementation of these six functions over a UART
 * (or anything else) -- the harness uses nothing else from the host. Build startup.c with
 * -DMCC_NO_SEMIHOSTING there too, so faults spin instead of trapping to an absent debugger.
 *
 * Handles are small non-negative integers; -1 means failure. Lengths are bytes. */
#ifndef MCC_SEMIHOST_H
#define MCC_SEMIHOST_H

#include <stdint.h>

/* Copies the command line the host started the program with ("firmware IN OUT N ...") into buf
 * (size bytes, NUL-terminated); returns its length, or -1 if the host gives none. */
int32_t mcc_host_command_line(char *buf, uint32_t size);

/* Opens a host file for reading (for_write == 0, "rb") or writing (else, "wb": created/truncated). */
int32_t mcc_host_open(const char *path, int for_write);

/* Reads exactly n bytes into buf; returns 0 on success, -1 on an error or the end of the file. */
int32_t mcc_host_read(int32_t handle, void *buf, uint32_t n);

/* Writes n bytes from buf; returns 0 on success, -1 on an error. */
int32_t mcc_host_write(int32_t handle, const void *buf, uint32_t n);

/* Closes a handle; returns 0 on success, -1 on an error. */
int32_t mcc_host_close(int32_t handle);

/* Writes a NUL-terminated diagnostic message to the host's console (QEMU: its stderr). */
void mcc_host_puts(const char *s);

#endif /* MCC_SEMIHOST_H */
