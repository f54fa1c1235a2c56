#pragma once
#include <napi.h>

// findElfSymbols(path, names[]): { name: fileOffset } for the defined functions among names.
Napi::Value FindElfSymbols(const Napi::CallbackInfo& info);
