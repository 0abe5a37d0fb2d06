// runtime/aot: what the AOT builder reads from object files and archives to link only
// what a library uses (docs/aot.md, "Size"): the kernel library functions a compiled
// kernel calls (its undefined symbols), a member of a static archive, and OpenBLAS's
// CPU dispatch pinned to one CPU. OpenBLAS is built with DYNAMIC_ARCH: its dynamic.o
// picks a kernel table (gotoblas_HASWELL, gotoblas_ZEN, ...) at load time and so
// references every CPU's tables, each of which references all of that CPU's kernels
// (about 1 MB each, 22 MB in all). A copy of dynamic.o whose references all name the
// target's table runs the same detection code but can only ever pick that table, and
// the static link then takes only that CPU's kernels.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace starc {

// The undefined symbols of an ELF64 relocatable object (little-endian x86-64), in
// symbol-table order. Throws AotError when the bytes are not such an object.
std::vector<std::string> elf_undefined_symbols(std::string_view object);

// The bytes of member `name` of the ar archive at `path`, or nullopt when it has none.
// Throws AotError when the file cannot be read or is not an archive.
std::optional<std::string> archive_member(const std::string& path, const std::string& name);

// Marks the constructor and destructor sections of an ELF64 object (.ctors*, .dtors*,
// .init_array*, .fini_array*: the loaders of a GPU kernel's modules) SHF_GNU_RETAIN, so
// that ld --gc-sections keeps them though nothing refers to them (ld keeps only unnumbered
// ones on its own). The flag counts only in an object of the GNU OS ABI, which it gets.
void retain_constructors(std::string& object);

// Rewrites OpenBLAS's dynamic.o (its bytes) so that every reference to a CPU's kernel
// table (gotoblas_<CPU>) names gotoblas_<core>. False, changing nothing, when the object
// does not reference gotoblas_<core> (an OpenBLAS without that CPU).
bool pin_openblas_core(std::string& dynamic_object, const std::string& core);

// The OpenBLAS CPU (its kernel table's suffix: "HASWELL", "ZEN", ...) for a --target:
// for "host" the one OpenBLAS picks on this machine (what the JIT runs), for an LLVM CPU
// name the table made for that CPU, or "" when there is no certain match (x86-64 and
// unknown names keep the dispatch over every CPU).
std::string openblas_core_for(const std::string& target);

}  // namespace starc
