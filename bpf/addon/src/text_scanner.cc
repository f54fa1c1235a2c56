// Multi-literal search over JS strings with Vectorscan (the portable Hyperscan): where in a text any of a set of
// fixed-width patterns starts. The secret scrubber uses it to find candidate positions in one native pass; V8's
// regex engine spends several nanoseconds a character trying a large alternation at every position.
#include "text_scanner.h"

#include <hs/hs.h>

#include <cstdlib>
#include <string>
#include <vector>

namespace {

struct ScanState {
  const std::vector<uint32_t>* widths;
  std::vector<uint32_t>* starts;
  size_t limit;
};

int OnMatch(unsigned int id, unsigned long long, unsigned long long to, unsigned int, void* context) {
  auto* state = static_cast<ScanState*>(context);
  state->starts->push_back(static_cast<uint32_t>(to - (*state->widths)[id]));
  // Past the limit the caller treats the text as full of candidates anyway: stop early.
  return state->starts->size() >= state->limit ? 1 : 0;
}

}  // namespace

Napi::Function TextScanner::Define(Napi::Env env) {
  return DefineClass(env, "TextScanner", {InstanceMethod("find", &TextScanner::Find)});
}

// new TextScanner(patterns: Array<{ source: string, caseless: boolean }>): each pattern must match a fixed number
// of characters, so a match's start is its end less that width.
TextScanner::TextScanner(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TextScanner>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) {
    Napi::TypeError::New(env, "TextScanner(patterns: Array<{ source, caseless }>)").ThrowAsJavaScriptException();
    return;
  }
  Napi::Array patterns = info[0].As<Napi::Array>();
  std::vector<std::string> sources;
  std::vector<unsigned int> flags;
  std::vector<unsigned int> ids;
  for (uint32_t i = 0; i < patterns.Length(); i++) {
    Napi::Object pattern = patterns.Get(i).As<Napi::Object>();
    sources.push_back(pattern.Get("source").As<Napi::String>().Utf8Value());
    flags.push_back(pattern.Get("caseless").ToBoolean() ? HS_FLAG_CASELESS : 0);
    ids.push_back(i);
  }
  std::vector<const char*> expressions;
  for (const std::string& source : sources) expressions.push_back(source.c_str());
  for (size_t i = 0; i < sources.size(); i++) {
    hs_expr_info_t* expressionInfo = nullptr;
    hs_compile_error_t* error = nullptr;
    if (hs_expression_info(expressions[i], flags[i], &expressionInfo, &error) != HS_SUCCESS) {
      std::string message = "pattern " + sources[i] + ": " + (error ? error->message : "invalid");
      hs_free_compile_error(error);
      Napi::Error::New(env, message).ThrowAsJavaScriptException();
      return;
    }
    bool fixed = expressionInfo->min_width == expressionInfo->max_width && expressionInfo->min_width > 0;
    widths_.push_back(expressionInfo->min_width);
    free(expressionInfo);
    if (!fixed) {
      Napi::Error::New(env, "pattern " + sources[i] + " must match a fixed number of characters").ThrowAsJavaScriptException();
      return;
    }
  }
  hs_compile_error_t* error = nullptr;
  if (hs_compile_multi(expressions.data(), flags.data(), ids.data(), static_cast<unsigned int>(expressions.size()), HS_MODE_BLOCK, nullptr,
                       &database_, &error) != HS_SUCCESS) {
    std::string message = std::string("compiling the patterns: ") + (error ? error->message : "failed");
    hs_free_compile_error(error);
    Napi::Error::New(env, message).ThrowAsJavaScriptException();
    return;
  }
  if (hs_alloc_scratch(database_, &scratch_) != HS_SUCCESS) {
    Napi::Error::New(env, "allocating the scanner's scratch space failed").ThrowAsJavaScriptException();
  }
}

TextScanner::~TextScanner() {
  if (scratch_) hs_free_scratch(scratch_);
  if (database_) hs_free_database(database_);
}

// find(text, limit): start offsets (in UTF-16 code units) of every pattern match, in order of match end, at most
// `limit` of them; null when there is none (most texts: no array to allocate and collect). The text is read one byte per code unit (Latin-1): an ASCII match keeps its offset, and a
// character beyond Latin-1 only ever adds a candidate the caller checks again, never hides one.
Napi::Value TextScanner::Find(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsNumber() || !database_ || !scratch_) {
    Napi::TypeError::New(env, "find(text: string, limit: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  size_t length = 0;
  napi_get_value_string_latin1(env, info[0], nullptr, 0, &length);
  text_.resize(length + 1);
  napi_get_value_string_latin1(env, info[0], text_.data(), text_.size(), &length);
  starts_.clear();
  ScanState state{&widths_, &starts_, static_cast<size_t>(info[1].As<Napi::Number>().Uint32Value())};
  hs_error_t result = hs_scan(database_, text_.data(), static_cast<unsigned int>(length), 0, scratch_, OnMatch, &state);
  if (result != HS_SUCCESS && result != HS_SCAN_TERMINATED) {
    Napi::Error::New(env, "scanning failed (" + std::to_string(result) + ")").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (starts_.empty()) return env.Null();
  Napi::Uint32Array starts = Napi::Uint32Array::New(env, starts_.size());
  for (size_t i = 0; i < starts_.size(); i++) starts[i] = starts_[i];
  return starts;
}

Napi::Value JsonVerbatim(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    Napi::TypeError::New(env, "jsonVerbatim(text: string)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  // One buffer per thread, reused: the call comes once per long string of every span.
  thread_local std::vector<char> text;
  size_t length = 0;
  napi_get_value_string_latin1(env, info[0], nullptr, 0, &length);
  text.resize(length + 1);
  napi_get_value_string_latin1(env, info[0], text.data(), text.size(), &length);
  const unsigned char* bytes = reinterpret_cast<const unsigned char*>(text.data());
  // Comparisons OR-ed together, with no branch per character: the compiler turns the loop into vector compares.
  unsigned char escaped = 0;
  for (size_t i = 0; i < length; i++) {
    unsigned char byte = bytes[i];
    escaped |= static_cast<unsigned char>((byte < 0x20) | (byte == '"') | (byte == '\\'));
  }
  return Napi::Boolean::New(env, escaped == 0);
}
