// ELF reading with libelf: uprobes take file offsets, and resolving them once per file here (rather than by name at
// every attach) keeps attaching to a 100 MB `node` binary cheap. The file is mapped, not read, so looking at a large
// executable costs page cache, not heap.
#include "elf_symbols.h"

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <set>
#include <string>

namespace {

// An ELF file opened for reading; `elf` is null when the file is not ELF (not an error: most mapped files are).
class ElfFile {
 public:
  ElfFile(Napi::Env env, const std::string& path) {
    if (elf_version(EV_CURRENT) == EV_NONE) {
      error = "libelf initialisation failed";
      return;
    }
    fd_ = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) {
      error = "open " + path + ": " + strerror(errno);
      return;
    }
    elf = elf_begin(fd_, ELF_C_READ_MMAP, nullptr);
    if (elf && elf_kind(elf) != ELF_K_ELF) {
      elf_end(elf);
      elf = nullptr;
    }
  }
  ~ElfFile() {
    if (elf) elf_end(elf);
    if (fd_ >= 0) close(fd_);
  }
  Elf* elf = nullptr;
  std::string error;

 private:
  int fd_ = -1;
};

struct FunctionSymbol {
  double offset;
  double size;
};

// Calls `onFunction` for each defined function among `wanted`, the first definition of each name only: dynamic symbols
// first (exported functions are what other processes' code calls through), then .symtab (functions a static
// executable carries without exporting them, e.g. OpenSSL linked in statically).
void ForEachWantedFunction(Elf* elf, const std::set<std::string>& wanted,
                           const std::function<void(const char*, const FunctionSymbol&)>& onFunction) {
  std::set<std::string> found;
  for (int pass = 0; pass < 2 && found.size() < wanted.size(); pass++) {
    Elf64_Word wantedType = pass == 0 ? SHT_DYNSYM : SHT_SYMTAB;
    Elf_Scn* section = nullptr;
    while ((section = elf_nextscn(elf, section)) != nullptr) {
      GElf_Shdr header;
      if (!gelf_getshdr(section, &header) || header.sh_type != wantedType || header.sh_entsize == 0) continue;
      Elf_Data* data = elf_getdata(section, nullptr);
      if (!data) continue;
      size_t symbolCount = header.sh_size / header.sh_entsize;
      for (size_t i = 0; i < symbolCount; i++) {
        GElf_Sym symbol;
        if (!gelf_getsym(data, static_cast<int>(i), &symbol)) continue;
        if (GELF_ST_TYPE(symbol.st_info) != STT_FUNC || symbol.st_shndx == SHN_UNDEF || symbol.st_value == 0) continue;
        const char* name = elf_strptr(elf, header.sh_link, symbol.st_name);
        if (!name || !wanted.count(name) || found.count(name)) continue;
        // The file offset of the code: its address minus its section's address plus the section's file offset.
        Elf_Scn* codeSection = elf_getscn(elf, symbol.st_shndx);
        GElf_Shdr codeHeader;
        if (!codeSection || !gelf_getshdr(codeSection, &codeHeader)) continue;
        found.insert(name);
        onFunction(name, {static_cast<double>(symbol.st_value - codeHeader.sh_addr + codeHeader.sh_offset),
                          static_cast<double>(symbol.st_size)});
      }
    }
  }
}

bool ReadArguments(const Napi::CallbackInfo& info, const char* usage, std::string* path, std::set<std::string>* names) {
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsArray()) {
    Napi::TypeError::New(info.Env(), usage).ThrowAsJavaScriptException();
    return false;
  }
  *path = info[0].As<Napi::String>().Utf8Value();
  Napi::Array nameArray = info[1].As<Napi::Array>();
  for (uint32_t i = 0; i < nameArray.Length(); i++) names->insert(nameArray.Get(i).As<Napi::String>().Utf8Value());
  return true;
}

}  // namespace

Napi::Value FindElfSymbols(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path;
  std::set<std::string> wanted;
  if (!ReadArguments(info, "findElfSymbols(path: string, names: string[])", &path, &wanted)) return env.Undefined();
  ElfFile file(env, path);
  if (!file.error.empty()) {
    Napi::Error::New(env, file.error).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object found = Napi::Object::New(env);
  if (file.elf) ForEachWantedFunction(file.elf, wanted, [&](const char* name, const FunctionSymbol& symbol) { found.Set(name, symbol.offset); });
  return found;
}

Napi::Value FindElfFunctions(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path;
  std::set<std::string> wanted;
  if (!ReadArguments(info, "findElfFunctions(path: string, names: string[])", &path, &wanted)) return env.Undefined();
  ElfFile file(env, path);
  if (!file.error.empty()) {
    Napi::Error::New(env, file.error).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object found = Napi::Object::New(env);
  if (file.elf) {
    ForEachWantedFunction(file.elf, wanted, [&](const char* name, const FunctionSymbol& symbol) {
      Napi::Object function = Napi::Object::New(env);
      function.Set("offset", symbol.offset);
      function.Set("size", symbol.size);
      found.Set(name, function);
    });
  }
  return found;
}

Napi::Value ReadElfLayout(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    Napi::TypeError::New(env, "readElfLayout(path: string)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  ElfFile file(env, info[0].As<Napi::String>().Utf8Value());
  if (!file.error.empty()) {
    Napi::Error::New(env, file.error).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (!file.elf) return env.Null();
  GElf_Ehdr elfHeader;
  size_t namesIndex;
  if (!gelf_getehdr(file.elf, &elfHeader) || elf_getshdrstrndx(file.elf, &namesIndex) != 0) return env.Null();
  Napi::Object layout = Napi::Object::New(env);
  layout.Set("machine", Napi::Number::New(env, elfHeader.e_machine));
  layout.Set("class", Napi::Number::New(env, gelf_getclass(file.elf) == ELFCLASS64 ? 64 : 32));
  layout.Set("littleEndian", Napi::Boolean::New(env, elfHeader.e_ident[EI_DATA] == ELFDATA2LSB));
  Napi::Array sections = Napi::Array::New(env);
  Elf_Scn* section = nullptr;
  uint32_t count = 0;
  while ((section = elf_nextscn(file.elf, section)) != nullptr) {
    GElf_Shdr header;
    if (!gelf_getshdr(section, &header)) continue;
    const char* name = elf_strptr(file.elf, namesIndex, header.sh_name);
    Napi::Object entry = Napi::Object::New(env);
    entry.Set("name", Napi::String::New(env, name ? name : ""));
    entry.Set("type", Napi::Number::New(env, header.sh_type));
    entry.Set("address", Napi::Number::New(env, static_cast<double>(header.sh_addr)));
    entry.Set("offset", Napi::Number::New(env, static_cast<double>(header.sh_offset)));
    entry.Set("size", Napi::Number::New(env, static_cast<double>(header.sh_size)));
    sections.Set(count++, entry);
  }
  layout.Set("sections", sections);
  return layout;
}
