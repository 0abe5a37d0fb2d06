// runtime: reading and writing files safely (docs/reliability.md, "Data files" and
// "Writing outputs"). Every output starc writes (npy/npz, weights, checkpoints, history
// CSV, SVG plots, JSON, FITS) goes through write_file_atomic; data files are read with
// read_data_file; the JIT disk cache (runtime/jit_cache.h) uses the no-follow variants.
// Every failure throws std::runtime_error naming the file and what is wrong.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace starc {

// Writes `bytes` to the file `path` names, so that a reader (or a crash at any moment)
// sees the old contents or the new ones, never a mix, and special files stay what they are:
//  - a symbolic link is followed to its final target (also when that does not exist
//    yet), and the target is replaced: the link stays a link;
//  - a character device or FIFO (/dev/null, /dev/stdout, a named pipe), and any path
//    inside /dev or /proc, is written through, as `cat > PATH` would;
//  - a regular file or a new name is replaced atomically and durably: the bytes go to an
//    unnamed temporary file in the same folder (O_TMPFILE; a named "<name>.tmp<pid>" where
//    the file system lacks it), which is fsynced, given the old file's permission bits,
//    linked as "<name>.tmp<pid>" and renamed over the target at once; then the folder
//    is fsynced. A kill during the write leaves no file behind; temporaries that a
//    killed starc left (their pid is gone) are removed by the next write of the same name;
//  - a folder, block device or socket is an error.
void write_file_atomic(const std::string& path, std::string_view bytes);

// Replaces the directory entry `path` itself (never following a symbolic link there) with
// a regular file holding `bytes`, atomically as above. For files starc owns (the JIT
// disk cache), where a link or special file in their place is damage, not a request.
void replace_file_atomic(const std::string& path, std::string_view bytes);

// The whole contents of a data file: a regular file (through symbolic links), or a FIFO
// (a pipe, `<(cmd)`, /dev/stdin) read to its end. Devices, sockets and folders are
// refused ("is a character device, not a data file"), and so is a file larger than
// max_read_bytes() (it could not be held in memory).
std::string read_data_file(const std::string& path);

// The contents of the regular file `path` when it holds at most `max_bytes`: opened
// without following a symbolic link and without blocking (O_NOFOLLOW | O_NONBLOCK), then
// checked with fstat. Throws naming what `path` is otherwise (a symbolic link, a FIFO, a
// device, too large, unreadable, or changed while being read).
std::string read_regular_file_nofollow(const std::string& path, uint64_t max_bytes);

// The most a buffer sized by a file may take: the machine's physical memory, or
// RLIMIT_AS / RLIMIT_DATA where lower. Sizes read from file headers are checked against it
// before allocating (a run's own memory is runtime/memory_limit.h's business).
uint64_t max_allocation();
// The most bytes read_data_file reads: half of max_allocation() (the parsed tensor
// needs room beside the file's bytes).
uint64_t max_read_bytes();

// "4.0 GiB", "512 B" (runtime/memory_limit.h's format_bytes, for sizes up to 2^64).
std::string format_size(uint64_t bytes);

// Throws "<what>: needs <bytes>, more than this machine's memory (<limit>)" when
// `bytes` exceeds max_allocation().
void check_allocation(uint64_t bytes, const std::string& what);

// a * b and a + b for sizes read from files: false on overflow (the result is then unset).
bool checked_mul(uint64_t a, uint64_t b, uint64_t* out);
bool checked_add(uint64_t a, uint64_t b, uint64_t* out);

// `s` quoted for a POSIX shell where it needs quoting: paths in commands printed for the
// user (the resume command of starc train) and in the tools the AOT builder runs.
std::string shell_quote(const std::string& s);

}  // namespace starc
