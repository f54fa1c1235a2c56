// A compiled set of fixed-width patterns, searched for in JS strings in one native pass.
#pragma once

#include <napi.h>

#include <cstdint>
#include <vector>

struct hs_database;
struct hs_scratch;

class TextScanner : public Napi::ObjectWrap<TextScanner> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit TextScanner(const Napi::CallbackInfo& info);
  ~TextScanner();

 private:
  Napi::Value Find(const Napi::CallbackInfo& info);

  hs_database* database_ = nullptr;
  hs_scratch* scratch_ = nullptr;
  std::vector<uint32_t> widths_;
  std::vector<char> text_;
  std::vector<uint32_t> starts_;
};
