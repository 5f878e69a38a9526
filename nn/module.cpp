#include "nn/module.h"

#include <set>
#include <sstream>

namespace difflab::nn {

Var& Module::register_parameter(const std::string& name, Tensor init, bool requires_grad) {
  for (auto& [n, v] : params_)
    DIFFLAB_CHECK(n != name, "Module: parameter '", name, "' registered twice");
  params_.emplace_back(name, Var(std::move(init), requires_grad));
  return params_.back().second;
}

Tensor& Module::register_buffer(const std::string& name, Tensor t) {
  for (auto& [n, v] : buffers_)
    DIFFLAB_CHECK(n != name, "Module: buffer '", name, "' registered twice");
  buffers_.emplace_back(name, std::move(t));
  return buffers_.back().second;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> m) {
  DIFFLAB_CHECK(m != nullptr, "Module: child '", name, "' is null");
  for (auto& [n, c] : children_)
    DIFFLAB_CHECK(n != name, "Module: child '", name, "' registered twice");
  children_.emplace_back(name, std::move(m));
}

void Module::collect_params(const std::string& prefix,
                            std::vector<std::pair<std::string, Var>>& out) const {
  for (auto& [n, v] : params_) out.emplace_back(prefix + n, v);
  for (auto& [n, c] : children_) c->collect_params(prefix + n + ".", out);
}

void Module::collect_buffers(const std::string& prefix,
                             std::vector<std::pair<std::string, Tensor>>& out) const {
  for (auto& [n, t] : buffers_) out.emplace_back(prefix + n, t);
  for (auto& [n, c] : children_) c->collect_buffers(prefix + n + ".", out);
}

std::vector<std::pair<std::string, Var>> Module::named_parameters(bool trainable_only) const {
  std::vector<std::pair<std::string, Var>> all, out;
  collect_params("", all);
  for (auto& p : all)
    if (!trainable_only || p.second.requires_grad()) out.push_back(p);
  return out;
}

std::vector<Var> Module::parameters(bool trainable_only) const {
  std::vector<Var> out;
  for (auto& [n, v] : named_parameters(trainable_only)) out.push_back(v);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers() const {
  std::vector<std::pair<std::string, Tensor>> out;
  collect_buffers("", out);
  return out;
}

StateDict Module::state_dict() const {
  StateDict sd;
  for (auto& [n, v] : named_parameters()) sd[n] = v.value();
  for (auto& [n, t] : named_buffers()) sd[n] = t;
  return sd;
}

void Module::load_state_dict(const StateDict& sd, bool strict) {
  StateDict mine = state_dict();
  std::vector<std::string> missing, unexpected;
  for (auto& [n, t] : mine)
    if (!sd.count(n)) missing.push_back(n);
  for (auto& [n, t] : sd)
    if (!mine.count(n)) unexpected.push_back(n);
  if (strict && (!missing.empty() || !unexpected.empty())) {
    std::ostringstream os;
    os << "load_state_dict:";
    if (!missing.empty()) {
      os << " missing keys";
      for (auto& k : missing) os << " '" << k << "'";
    }
    if (!unexpected.empty()) {
      os << (missing.empty() ? "" : ";") << " unexpected keys";
      for (auto& k : unexpected) os << " '" << k << "'";
    }
    DIFFLAB_FAIL(os.str());
  }
  for (auto& [n, dst] : mine) {
    auto it = sd.find(n);
    if (it == sd.end()) continue;
    const Tensor& src = it->second;
    DIFFLAB_CHECK(src.shape() == dst.shape(), "load_state_dict: key '", n, "' has shape ",
                  src.shape(), " in the checkpoint but ", dst.shape(), " in the model");
    DIFFLAB_CHECK(src.dtype() == dst.dtype(), "load_state_dict: key '", n, "' has dtype ",
                  src.dtype(), " in the checkpoint but ", dst.dtype(), " in the model");
    dst.copy_(src);
  }
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, c] : children_) c->train(on);
}

int64_t Module::num_parameters(bool trainable_only) const {
  int64_t n = 0;
  for (auto& [name, v] : named_parameters(trainable_only)) n += v.numel();
  return n;
}

void Module::zero_grad() {
  for (auto& [n, v] : named_parameters()) v.zero_grad();
}

namespace {
// Replaces a parameter's value; a trainable leaf gets a fresh node (it records shape, dtype
// and device).
void replace_value(Var& v, Tensor value) {
  bool rg = v.requires_grad();
  v.impl()->value = std::move(value);
  v.zero_grad();
  if (rg) {
    v.set_requires_grad(false);
    v.set_requires_grad(true);
  }
}
}  // namespace

void Module::to(tensor::Device device) {
  for (auto& [n, v] : params_) replace_value(v, v.value().to(device));
  for (auto& [n, t] : buffers_) t = t.to(device);
  for (auto& [n, c] : children_) c->to(device);
}

tensor::Device Module::device() const {
  auto ps = parameters();
  return ps.empty() ? tensor::Device::cpu() : ps.front().value().device();
}

void Module::to(DType dtype) {
  for (auto& [n, v] : params_) {
    bool rg = v.requires_grad();
    v.impl()->value = v.value().to(dtype);
    v.zero_grad();
    if (rg) {  // the leaf node records the old shape/dtype: make a fresh one
      v.set_requires_grad(false);
      v.set_requires_grad(true);
    }
  }
  for (auto& [n, t] : buffers_)
    if (tensor::is_floating(t.dtype())) t = t.to(dtype);
  for (auto& [n, c] : children_) c->to(dtype);
}

void Module::requires_grad_(bool on) {
  for (auto& [n, v] : params_) v.set_requires_grad(on);
  for (auto& [n, c] : children_) c->requires_grad_(on);
}

std::string Module::summary() const {
  std::ostringstream os;
  int64_t total = 0, trainable = 0;
  for (auto& [n, v] : named_parameters()) {
    os << n << " " << v.shape() << " " << v.numel() << (v.requires_grad() ? "" : " (frozen)")
       << "\n";
    total += v.numel();
    if (v.requires_grad()) trainable += v.numel();
  }
  os << "total " << total << " parameters, " << trainable << " trainable\n";
  return os.str();
}

}  // namespace difflab::nn
