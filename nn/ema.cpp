#include "nn/ema.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <sstream>

#include "tensor/optim.h"

namespace difflab::nn {

namespace {

void check_float(const Tensor& t, const std::string& name, const char* op) {
  DIFFLAB_CHECK(tensor::is_floating(t.dtype()), op, ": parameter '", name, "' has dtype ",
                t.dtype(), "; expected f32 or f64");
  DIFFLAB_CHECK(t.is_contiguous(), op, ": parameter '", name, "' is not contiguous");
}

void check_same(const Tensor& a, const Tensor& b, const std::string& name, const char* op) {
  DIFFLAB_CHECK(a.shape() == b.shape() && a.dtype() == b.dtype() && a.device() == b.device(), op, ": '", name, "' is ",
                b.desc(), " but its shadow is ", a.desc());
}

}  // namespace

Ema::Ema(std::vector<std::pair<std::string, Var>> params, EmaOptions opt)
    : opt_(opt), params_(std::move(params)) {
  DIFFLAB_CHECK(opt.decay >= 0 && opt.decay <= 1, "Ema: decay must lie in [0, 1], got ", opt.decay);
  std::map<std::string, int> seen;
  for (auto& [name, v] : params_) {
    DIFFLAB_CHECK(v.defined(), "Ema: parameter '", name, "' is undefined");
    DIFFLAB_CHECK(seen[name]++ == 0, "Ema: parameter name '", name, "' appears twice");
    check_float(v.value(), name, "Ema");
    shadow_.push_back(v.value().clone());
  }
}

Ema::Ema(const Module& module, EmaOptions opt)
    : Ema(module.named_parameters(opt.trainable_only), opt) {}

double Ema::decay_at(double decay) const {
  if (!opt_.warmup) return decay;
  const double t = double(num_updates_);
  return std::min(decay, (1 + t) / (10 + t));
}

double Ema::update(double decay) {
  DIFFLAB_CHECK(decay >= 0 && decay <= 1, "Ema.update: decay must lie in [0, 1], got ", decay);
  const double d = decay_at(decay);
  for (size_t i = 0; i < params_.size(); ++i) {
    const auto& [name, v] = params_[i];
    const Tensor& p = v.value();
    check_float(p, name, "Ema.update");
    check_same(shadow_[i], p, name, "Ema.update");
    tensor::lerp_(shadow_[i], p, 1 - d);
  }
  ++num_updates_;
  return d;
}

void Ema::copy_to() const {
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i].second.value();
    check_same(shadow_[i], p, params_[i].first, "Ema.copy_to");
    p.copy_(shadow_[i]);
  }
}

void Ema::copy_to(const Module& module) const {
  std::map<std::string, Var> dst;
  for (auto& [n, v] : module.named_parameters()) dst[n] = v;
  for (size_t i = 0; i < params_.size(); ++i) {
    const std::string& name = params_[i].first;
    auto it = dst.find(name);
    DIFFLAB_CHECK(it != dst.end(), "Ema.copy_to: the module has no parameter '", name, "'");
    check_same(shadow_[i], it->second.value(), name, "Ema.copy_to");
    it->second.value().copy_(shadow_[i]);
  }
}

void Ema::swap() {
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i].second.value();
    check_float(p, params_[i].first, "Ema.swap");
    check_same(shadow_[i], p, params_[i].first, "Ema.swap");
    if (!p.device().is_cpu()) {  // through a temporary on the device
      Tensor keep = p.clone();
      p.copy_(shadow_[i]);
      shadow_[i].copy_(keep);
      continue;
    }
    char* a = static_cast<char*>(p.raw_data());
    char* b = static_cast<char*>(shadow_[i].raw_data());
    std::swap_ranges(a, a + p.nbytes(), b);
  }
}

void Ema::set_num_updates(int64_t n) {
  DIFFLAB_CHECK(n >= 0, "Ema.set_num_updates: negative count ", n);
  num_updates_ = n;
}

StateDict Ema::state_dict() const {
  StateDict sd;
  for (size_t i = 0; i < params_.size(); ++i) sd[params_[i].first] = shadow_[i];
  return sd;
}

void Ema::load_state_dict(const StateDict& sd) {
  std::ostringstream missing, unexpected;
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < params_.size(); ++i) {
    index[params_[i].first] = i;
    if (!sd.count(params_[i].first)) missing << " '" << params_[i].first << "'";
  }
  for (auto& [n, t] : sd)
    if (!index.count(n)) unexpected << " '" << n << "'";
  DIFFLAB_CHECK(missing.str().empty() && unexpected.str().empty(),
                "Ema.load_state_dict:", missing.str().empty() ? "" : " missing keys", missing.str(),
                unexpected.str().empty() ? "" : " unexpected keys", unexpected.str());
  for (auto& [n, t] : sd) {
    const Tensor& s = shadow_[index[n]];
    // The shadow keeps its device: a state read from a file (on the CPU) loads into a CUDA EMA.
    DIFFLAB_CHECK(t.shape() == s.shape() && t.dtype() == s.dtype(), "Ema.load_state_dict: '", n,
                  "' is ", t.desc(), " but its shadow is ", s.desc());
    s.copy_(t);
  }
}

}  // namespace difflab::nn
