#include "runtime/aot/aot_objects.h"

#include <elf.h>

#include <cctype>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>

#include "runtime/aot/aot_builder.h"

// OpenBLAS's name for the CPU whose kernels it runs here (cblas.h; linked into starc).
extern "C" char* openblas_get_corename(void);

namespace starc {
namespace {

template <class T>
T read_at(std::string_view bytes, uint64_t offset) {
  T v;
  if (offset > bytes.size() || sizeof v > bytes.size() - offset)
    throw AotError("internal: a truncated or malformed ELF object");
  std::memcpy(&v, bytes.data() + offset, sizeof v);
  return v;
}

// Calls fn(symbol, name, offset of the symbol's entry in `o`) for every symbol of every
// symbol table of the ELF64 object o.
void for_each_symbol(std::string_view o, const std::function<void(const Elf64_Sym&, std::string_view, uint64_t)>& fn) {
  auto eh = read_at<Elf64_Ehdr>(o, 0);
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
      eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_shentsize != sizeof(Elf64_Shdr))
    throw AotError("internal: not a 64-bit little-endian ELF object");
  for (uint64_t s = 0; s < eh.e_shnum; ++s) {
    auto sh = read_at<Elf64_Shdr>(o, eh.e_shoff + s * sizeof(Elf64_Shdr));
    if (sh.sh_type != SHT_SYMTAB || sh.sh_entsize != sizeof(Elf64_Sym)) continue;
    auto strtab = read_at<Elf64_Shdr>(o, eh.e_shoff + uint64_t(sh.sh_link) * sizeof(Elf64_Shdr));
    if (strtab.sh_offset > o.size() || strtab.sh_size > o.size() - strtab.sh_offset)
      throw AotError("internal: a malformed ELF string table");
    std::string_view names = o.substr(strtab.sh_offset, strtab.sh_size);
    for (uint64_t at = sh.sh_offset; at + sizeof(Elf64_Sym) <= sh.sh_offset + sh.sh_size; at += sizeof(Elf64_Sym)) {
      auto sym = read_at<Elf64_Sym>(o, at);
      if (sym.st_name >= names.size()) throw AotError("internal: a malformed ELF symbol name");
      std::string_view name = names.substr(sym.st_name);
      fn(sym, name.substr(0, name.find('\0')), at);
    }
  }
}

}  // namespace

std::vector<std::string> elf_undefined_symbols(std::string_view object) {
  std::vector<std::string> out;
  for_each_symbol(object, [&](const Elf64_Sym& s, std::string_view name, uint64_t) {
    if (s.st_shndx == SHN_UNDEF && !name.empty()) out.emplace_back(name);
  });
  return out;
}

std::optional<std::string> archive_member(const std::string& path, const std::string& name) {
  std::ifstream f(path, std::ios::binary);
  char magic[8];
  if (!f.read(magic, 8) || std::memcmp(magic, "!<arch>\n", 8) != 0) throw AotError("cannot read the archive " + path);
  std::string long_names;  // GNU ar's "//" member: the names longer than 15 characters
  for (char h[60]; f.read(h, 60);) {
    std::string id(h, 16), member;
    id.erase(id.find_last_not_of(' ') + 1);
    const uint64_t size = std::strtoull(std::string(h + 48, 10).c_str(), nullptr, 10), padded = size + size % 2;
    if (id == "//") {
      long_names.resize(size);
      f.read(long_names.data(), std::streamsize(size));
      f.ignore(std::streamsize(padded - size));
      continue;
    }
    if (id.size() > 1 && id[0] == '/' && std::isdigit(static_cast<unsigned char>(id[1]))) {  // "/N": at N in "//"
      size_t off = std::strtoull(id.c_str() + 1, nullptr, 10);
      if (off < long_names.size()) member = long_names.substr(off, long_names.find("/\n", off) - off);
    } else if (id != "/" && id != "/SYM64/") {  // the symbol index has no name
      member = !id.empty() && id.back() == '/' ? id.substr(0, id.size() - 1) : id;
    }
    if (!member.empty() && member == name) {
      std::string data(size, '\0');
      if (!f.read(data.data(), std::streamsize(size))) throw AotError("cannot read the archive " + path);
      return data;
    }
    f.seekg(std::streamoff(padded), std::ios::cur);
  }
  return std::nullopt;
}

void retain_constructors(std::string& object) {
  auto eh = read_at<Elf64_Ehdr>(object, 0);
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
      eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shstrndx >= eh.e_shnum)
    throw AotError("internal: not a 64-bit ELF object");
  auto names = read_at<Elf64_Shdr>(object, eh.e_shoff + uint64_t(eh.e_shstrndx) * sizeof(Elf64_Shdr));
  bool marked = false;
  for (uint64_t s = 0; s < eh.e_shnum; ++s) {
    const uint64_t at = eh.e_shoff + s * sizeof(Elf64_Shdr);
    auto sh = read_at<Elf64_Shdr>(object, at);
    if (sh.sh_name >= names.sh_size || names.sh_offset + sh.sh_name >= object.size()) continue;
    std::string_view name(object.data() + names.sh_offset + sh.sh_name);
    bool ctor = false;
    for (const char* prefix : {".ctors", ".dtors", ".init_array", ".fini_array", ".preinit_array"})
      ctor |= name.rfind(prefix, 0) == 0;
    if (!ctor || sh.sh_type == SHT_RELA || sh.sh_type == SHT_REL) continue;
    sh.sh_flags |= SHF_GNU_RETAIN;
    std::memcpy(object.data() + at, &sh, sizeof sh);
    marked = true;
  }
  if (marked && eh.e_ident[EI_OSABI] == ELFOSABI_NONE) object[EI_OSABI] = char(ELFOSABI_GNU);
}

bool pin_openblas_core(std::string& object, const std::string& core) {
  const std::string target = "gotoblas_" + core;
  std::optional<uint32_t> target_name;
  std::vector<uint64_t> others;  // entries of the other CPUs' tables
  for_each_symbol(object, [&](const Elf64_Sym& s, std::string_view name, uint64_t at) {
    if (s.st_shndx != SHN_UNDEF || name.rfind("gotoblas_", 0) != 0) return;
    if (name == target)
      target_name = s.st_name;
    else
      others.push_back(at);
  });
  if (!target_name) return false;
  for (uint64_t at : others)
    std::memcpy(object.data() + at + offsetof(Elf64_Sym, st_name), &*target_name, sizeof *target_name);
  return true;
}

std::string openblas_core_for(const std::string& target) {
  if (target.empty() || target == "host") {
    const char* name = openblas_get_corename();
    std::string core = name ? name : "";
    for (char& c : core) c = char(std::toupper(static_cast<unsigned char>(c)));
    return core;
  }
  // LLVM CPU names -> the OpenBLAS table built for that CPU (as OpenBLAS's own detection
  // maps them); only names whose instruction sets cover the table's kernels.
  static const std::map<std::string, std::string> cores = {{"x86-64-v2", "NEHALEM"},
                                                           {"nehalem", "NEHALEM"},
                                                           {"westmere", "NEHALEM"},
                                                           {"sandybridge", "SANDYBRIDGE"},
                                                           {"ivybridge", "SANDYBRIDGE"},
                                                           {"x86-64-v3", "HASWELL"},
                                                           {"haswell", "HASWELL"},
                                                           {"broadwell", "HASWELL"},
                                                           {"skylake", "HASWELL"},
                                                           {"x86-64-v4", "SKYLAKEX"},
                                                           {"skylake-avx512", "SKYLAKEX"},
                                                           {"cascadelake", "SKYLAKEX"},
                                                           {"icelake-server", "SKYLAKEX"},
                                                           {"cooperlake", "COOPERLAKE"},
                                                           {"znver1", "ZEN"},
                                                           {"znver2", "ZEN"},
                                                           {"znver3", "ZEN"}};
  auto it = cores.find(target);
  return it == cores.end() ? "" : it->second;
}

}  // namespace starc
