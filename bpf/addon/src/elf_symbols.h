#pragma once
#include <napi.h>

// findElfSymbols(path, names[]): { name: fileOffset } for the defined functions among names.
Napi::Value FindElfSymbols(const Napi::CallbackInfo& info);
// findElfFunctions(path, names[]): { name: { offset, size } }, the same lookup with each function's size in bytes.
Napi::Value FindElfFunctions(const Napi::CallbackInfo& info);
// readElfLayout(path): { machine, class, littleEndian, sections: [{ name, type, address, offset, size }] }, or null
// when the file is not ELF.
Napi::Value ReadElfLayout(const Napi::CallbackInfo& info);
