#include "nn/lora.h"

#include "autograd/grad_mode.h"
#include "nn/init.h"
#include "nn/visit.h"
#include "tensor/factory.h"
#include "tensor/ops.h"

namespace difflab::nn {

LoRA::LoRA(Kind kind, Var base_weight, tensor::Conv2dParams conv, const LoRAConfig& cfg,
           tensor::Generator* gen)
    : kind_(kind), base_weight_(std::move(base_weight)), conv_(conv) {
  DIFFLAB_CHECK(cfg.rank > 0, "LoRA: rank must be positive, got ", cfg.rank);
  scale_ = cfg.alpha / double(cfg.rank);
  const Shape& w = base_weight_.shape();
  const DType dt = base_weight_.dtype();
  const int64_t r = cfg.rank;
  Shape as, bs;
  if (kind == Kind::linear) {
    as = {r, w[1]};
    bs = {w[0], r};
  } else {
    as = {r, w[1], w[2], w[3]};
    bs = {w[0], r, 1, 1};
  }
  a_ = register_parameter("A", kaiming_uniform(as, fan_in(as), gen).to(dt));
  b_ = register_parameter("B", tensor::zeros(bs, dt));
}

Var LoRA::delta(const Var& x) const {
  if (kind_ == Kind::linear) return ag::linear(ag::linear(x, a_), b_) * scale_;
  return ag::conv2d(ag::conv2d(x, a_, Var(), conv_), b_) * scale_;
}

Tensor LoRA::delta_weight() const {
  const Shape& w = base_weight_.shape();
  const Tensor a = a_.value().reshape({a_.size(0), -1});
  const Tensor b = b_.value().reshape({b_.size(0), b_.size(1)});
  return tensor::affine(tensor::matmul(b, a), scale_, 0.0).reshape(w);
}

void LoRA::merge() {
  DIFFLAB_CHECK(!merged_, "LoRA::merge: adapter already merged");
  ag::NoGradGuard ng;
  const Tensor& w = base_weight_.value();
  w.copy_(tensor::binary(tensor::BinaryOp::add, w, delta_weight()));
  merged_ = true;
  a_.set_requires_grad(false);
  b_.set_requires_grad(false);
}

namespace {
void freeze(Var v) {
  if (v.defined()) v.set_requires_grad(false);
}
}  // namespace

std::shared_ptr<LoRA> add_lora(Linear& layer, const LoRAConfig& cfg, tensor::Generator* gen) {
  auto a =
      std::make_shared<LoRA>(LoRA::Kind::linear, layer.weight(), tensor::Conv2dParams{}, cfg, gen);
  layer.set_adapter("lora", a);
  freeze(layer.weight());
  freeze(layer.bias());
  return a;
}

std::shared_ptr<LoRA> add_lora(Conv2d& layer, const LoRAConfig& cfg, tensor::Generator* gen) {
  DIFFLAB_CHECK(layer.params().groups == 1, "add_lora: ", layer.desc(),
                " is grouped; LoRA supports groups = 1 only");
  tensor::Conv2dParams p = layer.params();
  auto a = std::make_shared<LoRA>(LoRA::Kind::conv2d, layer.weight(), p, cfg, gen);
  layer.set_adapter("lora", a);
  freeze(layer.weight());
  freeze(layer.bias());
  return a;
}

std::vector<std::string> apply_lora(Module& root, const LoRAConfig& cfg, const ModuleFilter& filter,
                                    tensor::Generator* gen) {
  root.requires_grad_(false);
  std::vector<std::pair<std::string, Module*>> targets;
  visit_modules(root, [&](const std::string& path, Module& m) {
    if (filter && !filter(path)) return;
    if (auto* l = dynamic_cast<Linear*>(&m); l && !l->adapter()) targets.emplace_back(path, l);
    if (auto* c = dynamic_cast<Conv2d*>(&m); c && !c->adapter() && c->params().groups == 1)
      targets.emplace_back(path, c);
  });
  std::vector<std::string> names;
  for (auto& [path, m] : targets) {
    if (auto* l = dynamic_cast<Linear*>(m))
      add_lora(*l, cfg, gen);
    else
      add_lora(*static_cast<Conv2d*>(m), cfg, gen);
    names.push_back(path);
  }
  return names;
}

int64_t merge_lora(Module& root) {
  int64_t n = 0;
  visit_modules(root, [&n](const std::string&, Module& m) {
    if (auto* l = dynamic_cast<LoRA*>(&m); l && !l->merged()) {
      l->merge();
      ++n;
    }
  });
  return n;
}

}  // namespace difflab::nn
