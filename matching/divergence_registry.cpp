#include "matching/divergence_registry.h"

#include <algorithm>

#include "tensor/error.h"

namespace difflab::matching {

namespace {

bool valid_name(const std::string& name) {
  return !name.empty() && std::none_of(name.begin(), name.end(), [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == ',' || c == '=';
  });
}

}  // namespace

void DivergenceRegistry::add(const std::string& name, const std::string& description,
                             DivergenceFn fn) {
  DIFFLAB_CHECK(valid_name(name), "DivergenceRegistry::add: bad name '", name,
                "' (non-empty, no whitespace, ',' or '=')");
  DIFFLAB_CHECK(fn != nullptr, "DivergenceRegistry::add: divergence '", name, "' has no function");
  std::lock_guard<std::mutex> lock(mutex_);
  for (const Entry& e : entries_)
    DIFFLAB_CHECK(e.name != name, "DivergenceRegistry::add: divergence '", name,
                  "' is already registered");
  entries_.push_back({name, description, std::move(fn)});
}

const DivergenceRegistry::Entry& DivergenceRegistry::entry(const std::string& name) const {
  for (const Entry& e : entries_)
    if (e.name == name) return e;
  std::string known;
  for (const Entry& e : entries_) known += (known.empty() ? "" : ", ") + e.name;
  DIFFLAB_FAIL("unknown divergence '", name, "' (known: ", known, ")");
}

bool DivergenceRegistry::contains(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return std::any_of(entries_.begin(), entries_.end(),
                     [&](const Entry& e) { return e.name == name; });
}

DivergenceFn DivergenceRegistry::find(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return entry(name).fn;
}

std::string DivergenceRegistry::description(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return entry(name).description;
}

std::vector<std::string> DivergenceRegistry::names() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::string> out;
  for (const Entry& e : entries_) out.push_back(e.name);
  return out;
}

ag::Var DivergenceRegistry::evaluate(const std::string& name, const ag::Var& x, const ag::Var& y,
                                     const DivergenceSettings& settings,
                                     tensor::Generator* gen) const {
  // Called outside the lock: a registered function may itself use the registry.
  return find(name)(x, y, settings, gen);
}

DivergenceRegistry& divergence_registry() {
  static DivergenceRegistry* const registry = [] {
    auto* r = new DivergenceRegistry();
    register_builtin_divergences(*r);
    return r;
  }();
  return *registry;
}

ag::Var divergence(const ag::Var& x, const ag::Var& y, const DivergenceSettings& settings,
                   tensor::Generator* gen) {
  return divergence_registry().evaluate(settings.divergence, x, y, settings, gen);
}

}  // namespace difflab::matching
