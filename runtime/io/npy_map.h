// runtime: .npy files larger than memory (docs/distributed.md, "Data larger than memory").
//
// map_npy serves a .npy's data region from a read-only private mapping of the file once
// its header is checked, so a 50 GB input costs address space, not memory, and code that
// reads a few rows through Tensor::raw() (data_fingerprint) still can. Batches are not
// copied out of the mapping, though: a page fault there maps whole page-cache folios
// (up to 2 MiB each on ext4 with large folios), so a shuffled gather would soon hold the
// whole file resident. read_mapped_rows reads the rows with pread instead, into the
// batch's own memory: peak RSS is bounded by the batch, the weights and the compiled
// step, not by the file (the page cache holds what the kernel likes, outside the process).
//
// A file that cannot be used where it lies (big-endian, Fortran order, int32, f16, bool,
// a FIFO, a short file) or is smaller than the mapping threshold is read whole by
// read_npy, with its conversions and its error messages unchanged.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "compiler/ir/tensor.h"

namespace starc {

// Files whose data region is at least this many bytes are mapped: $STARC_MMAP_MIN_BYTES
// when set (0 maps every mappable file; tests use it), else 16 MiB.
uint64_t mmap_min_bytes();

// The .npy at `path` as read_npy reads it (same dtype, shape, `stored`, errors), its
// data mapped when it is mappable and at least `min_bytes` long.
Tensor map_npy(const std::string& path, std::string* stored = nullptr, uint64_t min_bytes = mmap_min_bytes());

// The .npy files `paths` as one tensor: their rows one after another along the first axis
// (a dataset split over many files: `--data flux=@files.txt`, `flux=DIR/`). Each file is
// opened and its header checked, never read whole: the tensor's memory is reserved
// address space only (PROT_NONE), and its rows are read from the files by
// read_mapped_rows / copy_rows. Lists too small to map (`min_bytes` in all) or holding
// a file read_npy must convert are read whole and concatenated instead. Every file must
// have the first one's element type and trailing dims; errors name `what` (the list file
// or folder) and the file.
Tensor map_npy_files(const std::vector<std::string>& paths, const std::string& what, std::string* stored = nullptr,
                     uint64_t min_bytes = mmap_min_bytes());

// Whether `t` is a list of files from map_npy_files whose memory cannot be read directly:
// code that needs its elements in memory takes copy_rows(t, 0, rows) first.
bool is_file_list(const Tensor& t);

// Whether `t`'s elements lie in a mapping made by map_npy (or a reshaped view of one).
bool is_mapped(const Tensor& t);

// When `t` (or a reshaped view of it) is a mapping made by map_npy: copies rows
// idx[0..count) of it (along its first axis, `row_bytes` each) to `dst` one after
// another by reading the file, and returns true. Otherwise returns false and does nothing.
bool read_mapped_rows(const Tensor& t, const int64_t* idx, int64_t count, size_t row_bytes, void* dst);

// Rows [begin, end) of `t` along its first axis, copied (from the file when mapped).
Tensor copy_rows(const Tensor& t, int64_t begin, int64_t end);

}  // namespace starc
