#include <napi.h>

#include "bpf_object.h"
#include "elf_symbols.h"
#include "idle_first_scheduler.h"
#include "text_scanner.h"

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("BpfObject", BpfObject::Define(env));
  exports.Set("findElfSymbols", Napi::Function::New(env, FindElfSymbols));
  exports.Set("TextScanner", TextScanner::Define(env));
  exports.Set("jsonVerbatim", Napi::Function::New(env, JsonVerbatim));
  exports.Set("findElfFunctions", Napi::Function::New(env, FindElfFunctions));
  exports.Set("readElfLayout", Napi::Function::New(env, ReadElfLayout));
  exports.Set("IdleFirstScheduler", IdleFirstScheduler::Define(env));
  return exports;
}

NODE_API_MODULE(sightline_bpf, Init)
