// Depth-first walk over a module tree with dotted paths ("" for the root), in registration order.
#pragma once
#include <functional>
#include <string>

#include "nn/module.h"

namespace difflab::nn {

inline void visit_modules(Module& root, const std::function<void(const std::string&, Module&)>& fn,
                          const std::string& prefix = "") {
  fn(prefix, root);
  // Copy the child list first: fn may register new children (e.g. LoRA adapters).
  auto children = root.named_children();
  for (auto& [name, child] : children)
    visit_modules(*child, fn, prefix.empty() ? name : prefix + "." + name);
}

}  // namespace difflab::nn
