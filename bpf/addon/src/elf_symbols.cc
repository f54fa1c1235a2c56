// Symbol lookup with libelf: uprobes take file offsets, and resolving them once per file here (rather than by
// name at every attach) keeps attaching to a 100 MB `node` binary cheap.
#include "elf_symbols.h"

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <cstring>
#include <set>
#include <string>

Napi::Value FindElfSymbols(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsArray()) {
    Napi::TypeError::New(env, "findElfSymbols(path: string, names: string[])").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string path = info[0].As<Napi::String>();
  Napi::Array nameArray = info[1].As<Napi::Array>();
  std::set<std::string> wanted;
  for (uint32_t i = 0; i < nameArray.Length(); i++) wanted.insert(nameArray.Get(i).As<Napi::String>().Utf8Value());

  Napi::Object found = Napi::Object::New(env);
  if (elf_version(EV_CURRENT) == EV_NONE) {
    Napi::Error::New(env, "libelf initialisation failed").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    Napi::Error::New(env, "open " + path + ": " + strerror(errno)).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Elf* elf = elf_begin(fd, ELF_C_READ_MMAP, nullptr);
  if (!elf || elf_kind(elf) != ELF_K_ELF) {
    if (elf) elf_end(elf);
    close(fd);
    return found;  // not an ELF file: no symbols, not an error
  }
  // Dynamic symbols first: exported functions are what other processes' code calls through.
  for (int pass = 0; pass < 2 && found.GetPropertyNames().Length() < wanted.size(); pass++) {
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
        if (!name || !wanted.count(name) || found.Has(name)) continue;
        // The file offset of the code: its address minus its section's address plus the section's file offset.
        Elf_Scn* codeSection = elf_getscn(elf, symbol.st_shndx);
        GElf_Shdr codeHeader;
        if (!codeSection || !gelf_getshdr(codeSection, &codeHeader)) continue;
        double offset = static_cast<double>(symbol.st_value - codeHeader.sh_addr + codeHeader.sh_offset);
        found.Set(name, Napi::Number::New(env, offset));
      }
    }
  }
  elf_end(elf);
  close(fd);
  return found;
}
