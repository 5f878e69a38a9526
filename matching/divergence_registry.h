// Divergences by name: a table filled by explicit registration calls, extensible at run time
// (the Python binding adds functions to the process-wide table). Built-ins are registered by one
// call to register_builtin_divergences, made on the first access to divergence_registry() —
// not by static self-registration, which a static library drops with its unused object files.
#pragma once
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "autograd/var.h"
#include "matching/divergence_settings.h"
#include "tensor/random.h"

namespace difflab::matching {

// x [N, ...], y [M, ...]; gen is the source of random projections (sliced kinds; may be null
// for the others). Returns a scalar Var differentiable w.r.t. x and y.
using DivergenceFn =
    std::function<ag::Var(const ag::Var& x, const ag::Var& y, const DivergenceSettings& settings,
                          tensor::Generator* gen)>;

class DivergenceRegistry {
 public:
  // Throws when the name is empty, contains whitespace, ',' or '=', or is already taken, or when
  // fn is empty. `description` is one line, shown by help texts.
  void add(const std::string& name, const std::string& description, DivergenceFn fn);
  bool contains(const std::string& name) const;
  // A copy of the function (safe to call while another thread registers); throws difflab::Error
  // "unknown divergence '<name>' (known: ...)" listing the names.
  DivergenceFn find(const std::string& name) const;
  std::string description(const std::string& name) const;
  std::vector<std::string> names() const;  // in registration order
  // find(name)(x, y, settings, gen).
  ag::Var evaluate(const std::string& name, const ag::Var& x, const ag::Var& y,
                   const DivergenceSettings& settings, tensor::Generator* gen = nullptr) const;

 private:
  struct Entry {
    std::string name, description;
    DivergenceFn fn;
  };
  const Entry& entry(const std::string& name) const;  // caller holds mutex_

  mutable std::mutex mutex_;
  std::vector<Entry> entries_;
};

// mmd_u, mmd_v, mmd_sqrt, energy, energy_u, sliced_w1, sliced_w2, sinkhorn
// (builtin_divergences.cpp).
void register_builtin_divergences(DivergenceRegistry& registry);

// The process-wide table, with the built-ins registered on first access (thread-safe). Never
// destroyed, so functions registered from Python outlive the interpreter's teardown order.
DivergenceRegistry& divergence_registry();

// divergence_registry().evaluate(settings.divergence, x, y, settings, gen).
ag::Var divergence(const ag::Var& x, const ag::Var& y, const DivergenceSettings& settings,
                   tensor::Generator* gen = nullptr);

}  // namespace difflab::matching
