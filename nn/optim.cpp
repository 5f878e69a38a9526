#include "nn/optim.h"

#include <cmath>
#include <set>
#include <sstream>

#include "autograd/node.h"
#include "tensor/factory.h"
#include "tensor/optim.h"

namespace difflab::nn {

namespace {

bool is_finite_nonneg(double v) { return std::isfinite(v) && v >= 0; }

}  // namespace

Optimizer::Optimizer(std::vector<Var> params, double lr) : lr_(lr), params_(std::move(params)) {
  // type() is not available while the base is being constructed.
  DIFFLAB_CHECK(is_finite_nonneg(lr), "Optimizer: invalid learning rate ", lr);
  for (size_t i = 0; i < params_.size(); ++i) {
    const Var& p = params_[i];
    DIFFLAB_CHECK(p.defined(), "Optimizer: parameter ", i, " is undefined");
    DIFFLAB_CHECK(p.is_leaf(), "Optimizer: parameter ", i, " is not a leaf (produced by '",
                  p.node()->op, "'); optimizers update leaf parameters only");
    for (size_t j = 0; j < i; ++j)
      DIFFLAB_CHECK(!p.same(params_[j]), "Optimizer: parameter ", i,
                    " is the same Var as parameter ", j, "; pass each parameter once");
  }
  state_.resize(params_.size());
}

void Optimizer::set_lr(double lr) {
  DIFFLAB_CHECK(is_finite_nonneg(lr), type(), ".set_lr: invalid learning rate ", lr);
  lr_ = lr;
}

void Optimizer::zero_grad() {
  for (auto& p : params_) p.zero_grad();
}

void Optimizer::step() {
  for (size_t i = 0; i < params_.size(); ++i) {
    Var gv = params_[i].grad();
    if (!gv.defined()) continue;
    const Tensor& p = params_[i].value();
    Tensor g = gv.value();
    DIFFLAB_CHECK(p.device() == g.device(), type(), ".step: parameter ", i, " is on ",
                  p.device(), " with its gradient on ", g.device());
    DIFFLAB_CHECK(tensor::is_floating(p.dtype()), type(), ".step: parameter ", i, " has dtype ",
                  p.dtype(), "; expected f32 or f64");
    DIFFLAB_CHECK(g.dtype() == p.dtype() && g.shape() == p.shape(), type(), ".step: parameter ", i,
                  " is ", p.desc(), " but its gradient is ", g.desc());
    DIFFLAB_CHECK(p.is_contiguous(), type(), ".step: parameter ", i,
                  " is not contiguous; updates are written in place into its storage");
    g = g.contiguous();  // a gradient may be a broadcast view (stride 0)
    ParamState& st = state_[i];
    // E.g. Module::to(f64) after the optimizer took steps in f32.
    for (auto& [b, t] : st.buffers)
      DIFFLAB_CHECK(t.shape() == p.shape() && t.dtype() == p.dtype(), type(), ".step: parameter ",
                    i, " is ", p.desc(), " but its '", b, "' buffer is ", t.desc());
    st.step += 1;
    update(p, g, st);
  }
}

Tensor& Optimizer::buffer(ParamState& st, const std::string& name, const Tensor& p) {
  auto it = st.buffers.find(name);
  if (it == st.buffers.end()) it = st.buffers.emplace(name, tensor::zeros_like(p)).first;
  return it->second;
}

StateDict Optimizer::state_dict(const std::vector<std::string>& names) const {
  DIFFLAB_CHECK(names.size() == params_.size(), type(), ".state_dict: ", names.size(),
                " names for ", params_.size(), " parameters");
  StateDict sd;
  for (size_t i = 0; i < params_.size(); ++i) {
    const ParamState& st = state_[i];
    for (auto& [b, t] : st.buffers) sd[names[i] + "." + b] = t;
    if (st.step > 0) sd[names[i] + ".step"] = tensor::from_vector<int64_t>({st.step}, {});
  }
  return sd;
}

void Optimizer::load_state_dict(const StateDict& sd, const std::vector<std::string>& names) {
  const std::string op = std::string(type()) + ".load_state_dict";
  DIFFLAB_CHECK(names.size() == params_.size(), op, ": ", names.size(), " names for ",
                params_.size(), " parameters");
  std::vector<std::string> bufs = buffer_names();
  std::set<std::string> known;
  std::vector<ParamState> fresh(params_.size());
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i].value();
    ParamState& st = fresh[i];
    const std::string step_key = names[i] + ".step";
    known.insert(step_key);
    if (auto it = sd.find(step_key); it != sd.end()) {
      const Tensor& s = it->second;
      DIFFLAB_CHECK(s.dtype() == tensor::DType::i64 && s.numel() == 1, op, ": key '", step_key,
                    "' must be a single i64 value, got ", s.desc());
      st.step = s.contiguous().data<int64_t>()[0];  // not through double: exact to 2^63
      DIFFLAB_CHECK(st.step >= 0, op, ": key '", step_key, "' is negative (", st.step, ")");
    }
    for (const auto& b : bufs) {
      const std::string key = names[i] + "." + b;
      known.insert(key);
      auto it = sd.find(key);
      if (it == sd.end()) {
        DIFFLAB_CHECK(st.step == 0, op, ": key '", key, "' is missing but '", step_key, "' says ",
                      st.step, " steps were taken");
        continue;
      }
      const Tensor& t = it->second;
      DIFFLAB_CHECK(t.shape() == p.shape() && t.dtype() == p.dtype(), op, ": key '", key, "' is ",
                    t.desc(), " but the parameter is ", p.desc());
      // A state read from a file sits on the CPU: its buffers move to the parameter's device.
      st.buffers[b] = t.device() == p.device() ? t.clone() : t.to(p.device());
    }
  }
  std::vector<std::string> unexpected;
  for (auto& [k, t] : sd)
    if (!known.count(k)) unexpected.push_back(k);
  if (!unexpected.empty()) {
    std::ostringstream os;
    for (auto& k : unexpected) os << " '" << k << "'";
    DIFFLAB_FAIL(
        op, ": unexpected keys", os.str(), " (buffers of ", type(), " are",
        [&] {
          std::string s;
          for (auto& b : bufs) s += " '" + b + "'";
          return s.empty() ? std::string(" none") : s;
        }(),
        ", plus 'step')");
  }
  state_ = std::move(fresh);
}

// ---- SGD ----

SGD::SGD(std::vector<Var> params, SGDOptions opt)
    : Optimizer(std::move(params), opt.lr), opt_(opt) {
  DIFFLAB_CHECK(is_finite_nonneg(opt.momentum), "SGD: invalid momentum ", opt.momentum);
  DIFFLAB_CHECK(std::isfinite(opt.dampening), "SGD: invalid dampening ", opt.dampening);
  DIFFLAB_CHECK(is_finite_nonneg(opt.weight_decay), "SGD: invalid weight_decay ", opt.weight_decay);
  DIFFLAB_CHECK(!opt.nesterov || (opt.momentum > 0 && opt.dampening == 0),
                "SGD: Nesterov momentum requires a momentum and zero dampening (momentum ",
                opt.momentum, ", dampening ", opt.dampening, ")");
}

std::vector<std::string> SGD::buffer_names() const {
  if (opt_.momentum == 0) return {};
  return {"momentum_buffer"};
}

void SGD::update(const Tensor& p, const Tensor& g, ParamState& st) {
  const bool use_momentum = opt_.momentum != 0;
  // PyTorch clones the first step's gradient into the buffer rather than decaying zeros.
  const bool first = use_momentum && !st.buffers.count("momentum_buffer");
  Tensor b = use_momentum ? buffer(st, "momentum_buffer", p) : Tensor();
  tensor::sgd_step(p, g, b, {lr_, opt_.weight_decay, opt_.momentum, opt_.dampening,
                            opt_.nesterov, first});
}

// ---- Adam / AdamW ----

Adam::Adam(std::vector<Var> params, AdamOptions opt) : Adam(std::move(params), opt, false) {}

Adam::Adam(std::vector<Var> params, AdamOptions opt, bool decoupled)
    : Optimizer(std::move(params), opt.lr), opt_(opt), decoupled_(decoupled) {
  const char* name = type();
  DIFFLAB_CHECK(opt.beta1 >= 0 && opt.beta1 < 1, name, ": invalid beta1 ", opt.beta1,
                " (need 0 <= beta1 < 1)");
  DIFFLAB_CHECK(opt.beta2 >= 0 && opt.beta2 < 1, name, ": invalid beta2 ", opt.beta2,
                " (need 0 <= beta2 < 1)");
  DIFFLAB_CHECK(is_finite_nonneg(opt.eps), name, ": invalid eps ", opt.eps);
  DIFFLAB_CHECK(is_finite_nonneg(opt.weight_decay), name, ": invalid weight_decay ",
                opt.weight_decay);
}

std::vector<std::string> Adam::buffer_names() const {
  if (opt_.amsgrad) return {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
  return {"exp_avg", "exp_avg_sq"};
}

void Adam::update(const Tensor& p, const Tensor& g, ParamState& st) {
  Tensor m = buffer(st, "exp_avg", p), v = buffer(st, "exp_avg_sq", p);
  Tensor vmax = opt_.amsgrad ? buffer(st, "max_exp_avg_sq", p) : Tensor();
  // Scalars in double as in Python, then cast to the parameter's type as PyTorch's kernels do.
  const double t = double(st.step);
  const double bias_correction1 = 1 - std::pow(opt_.beta1, t);
  const double bias_correction2 = 1 - std::pow(opt_.beta2, t);
  tensor::adam_step(p, g, m, v, vmax,
                    {opt_.beta1, opt_.beta2, opt_.eps, opt_.weight_decay, lr_ / bias_correction1,
                     std::sqrt(bias_correction2), 1 - lr_ * opt_.weight_decay,
                     !decoupled_ && opt_.weight_decay != 0, decoupled_ && opt_.weight_decay != 0});
}

}  // namespace difflab::nn
