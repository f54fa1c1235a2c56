// A compiled set of fixed-width patterns, searched for in JS strings in one native pass.
#pragma once

#include <napi.h>

#include <cstdint>
#include <vector>

struct hs_database;
struct hs_scratch;

// jsonVerbatim(text): true when no character of `text`, cut to its low byte, is a quote, a backslash or a control
// character, i.e. JSON.stringify would copy it as it is (the caller checks surrogates). A character beyond Latin-1
// can only make the answer false where it need not be, never true where it must not be.
Napi::Value JsonVerbatim(const Napi::CallbackInfo& info);

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
