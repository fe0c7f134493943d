#include "taskgrid/params.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <stdexcept>

namespace taskgrid {
namespace {

std::string BadValue(std::string_view key, std::string_view value,
                     std::string_view want) {
  std::string m = "param '";
  m += key;
  m += "': expected ";
  m += want;
  m += ", got '";
  m += value;
  m += "'";
  return m;
}

template <typename T>
T OrThrow(StatusOr<T> v, T def) {
  if (v.ok()) return *std::move(v);
  if (v.status().code() == StatusCode::kNotFound) return def;
  throw std::invalid_argument(v.status().message());
}

}  // namespace

bool Params::Has(std::string_view key) const {
  return values_.find(key) != values_.end();
}

StatusOr<std::string> Params::String(std::string_view key) const {
  auto it = values_.find(key);
  if (it == values_.end()) {
    return NotFoundError("param '" + std::string(key) + "' is not set");
  }
  return it->second;
}

StatusOr<int64_t> Params::Int(std::string_view key) const {
  auto s = String(key);
  if (!s.ok()) return s.status();
  int64_t v = 0;
  const std::string& t = *s;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc() || p != t.data() + t.size() || t.empty()) {
    return InvalidArgumentError(BadValue(key, t, "an integer"));
  }
  return v;
}

StatusOr<double> Params::Double(std::string_view key) const {
  auto s = String(key);
  if (!s.ok()) return s.status();
  const std::string& t = *s;
  char* end = nullptr;
  double v = std::strtod(t.c_str(), &end);
  if (t.empty() || end != t.c_str() + t.size() || !std::isfinite(v)) {
    return InvalidArgumentError(BadValue(key, t, "a number"));
  }
  return v;
}

StatusOr<bool> Params::Bool(std::string_view key) const {
  auto s = String(key);
  if (!s.ok()) return s.status();
  const std::string& t = *s;
  if (t == "true" || t == "True" || t == "yes" || t == "1") return true;
  if (t == "false" || t == "False" || t == "no" || t == "0") return false;
  return InvalidArgumentError(BadValue(key, t, "true or false"));
}

std::string Params::StringOr(std::string_view key, std::string_view def) const {
  return OrThrow<std::string>(String(key), std::string(def));
}
int64_t Params::IntOr(std::string_view key, int64_t def) const {
  return OrThrow<int64_t>(Int(key), def);
}
double Params::DoubleOr(std::string_view key, double def) const {
  return OrThrow<double>(Double(key), def);
}
bool Params::BoolOr(std::string_view key, bool def) const {
  return OrThrow<bool>(Bool(key), def);
}

}  // namespace taskgrid
