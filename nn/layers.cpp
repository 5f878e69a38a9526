#include "nn/layers.h"

#include <algorithm>
#include <sstream>

#include "nn/init.h"
#include "nn/visit.h"
#include "tensor/factory.h"

namespace difflab::nn {

namespace {
std::string shape_of(const Var& x) {
  std::ostringstream os;
  os << x.shape();
  return os.str();
}
}  // namespace

// ---- Linear ----
Linear::Linear(int64_t in_features, int64_t out_features, bool bias, tensor::Generator* gen)
    : in_(in_features), out_(out_features) {
  DIFFLAB_CHECK(in_features > 0 && out_features > 0,
                "Linear: features must be positive, got in=", in_features, " out=", out_features);
  weight_ = register_parameter("weight", kaiming_uniform({out_, in_}, in_, gen));
  if (bias) bias_ = register_parameter("bias", kaiming_uniform({out_}, in_, gen));
}

std::string Linear::desc() const {
  return detail::concat("Linear(", in_, "->", out_, bias_.defined() ? "" : ", no bias", ")");
}

Var Linear::forward(const Var& x) const {
  DIFFLAB_CHECK(x.defined() && x.dim() >= 1 && x.size(-1) == in_, desc(), ": input ",
                x.defined() ? shape_of(x) : "undefined", " must end in ", in_, " features");
  DIFFLAB_CHECK(x.dtype() == weight_.dtype(), desc(), ": input dtype ", x.dtype(),
                " differs from the weight's ", weight_.dtype(), " (convert with Module::to)");
  Var y = ag::linear(x, weight_, bias_);
  if (adapter_ && adapter_->active()) y = ag::add(y, adapter_->delta(x));
  return y;
}

void Linear::set_adapter(const std::string& name, std::shared_ptr<Adapter> a) {
  DIFFLAB_CHECK(!adapter_, desc(), ": already has an adapter");
  add_child(name, a);
  adapter_ = std::move(a);
}

// ---- Conv2d ----
Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t stride,
               int64_t padding, int64_t dilation, int64_t groups, bool bias, tensor::Generator* gen)
    : cin_(in_channels), cout_(out_channels), k_(kernel) {
  DIFFLAB_CHECK(
      cin_ > 0 && cout_ > 0 && k_ > 0 && stride > 0 && padding >= 0 && dilation > 0 && groups > 0,
      "Conv2d: invalid configuration in=", cin_, " out=", cout_, " kernel=", k_, " stride=", stride,
      " padding=", padding, " dilation=", dilation, " groups=", groups);
  DIFFLAB_CHECK(cin_ % groups == 0 && cout_ % groups == 0, "Conv2d: groups=", groups,
                " must divide in_channels=", cin_, " and out_channels=", cout_);
  p_.stride_h = p_.stride_w = stride;
  p_.pad_h = p_.pad_w = padding;
  p_.dil_h = p_.dil_w = dilation;
  p_.groups = groups;
  const Shape ws{cout_, cin_ / groups, k_, k_};
  weight_ = register_parameter("weight", kaiming_uniform(ws, fan_in(ws), gen));
  if (bias) bias_ = register_parameter("bias", kaiming_uniform({cout_}, fan_in(ws), gen));
}

std::string Conv2d::desc() const {
  std::ostringstream os;
  os << "Conv2d(" << cin_ << "->" << cout_ << ", k=" << k_;
  if (p_.stride_h != 1) os << ", stride=" << p_.stride_h;
  if (p_.pad_h != 0) os << ", padding=" << p_.pad_h;
  if (p_.dil_h != 1) os << ", dilation=" << p_.dil_h;
  if (p_.groups != 1) os << ", groups=" << p_.groups;
  os << ")";
  return os.str();
}

Var Conv2d::forward(const Var& x) const {
  DIFFLAB_CHECK(x.defined() && x.dim() == 4 && x.size(1) == cin_, desc(), ": input ",
                x.defined() ? shape_of(x) : "undefined", " must be [N, ", cin_, ", H, W]");
  DIFFLAB_CHECK(x.dtype() == weight_.dtype(), desc(), ": input dtype ", x.dtype(),
                " differs from the weight's ", weight_.dtype(), " (convert with Module::to)");
  const int64_t reach = p_.dil_h * (k_ - 1) + 1;
  DIFFLAB_CHECK(x.size(2) + 2 * p_.pad_h >= reach && x.size(3) + 2 * p_.pad_w >= reach, desc(),
                ": input ", shape_of(x), " is smaller than the kernel's reach ", reach);
  Var y = ag::conv2d(x, weight_, bias_, p_);
  if (adapter_ && adapter_->active()) y = ag::add(y, adapter_->delta(x));
  return y;
}

void Conv2d::set_adapter(const std::string& name, std::shared_ptr<Adapter> a) {
  DIFFLAB_CHECK(!adapter_, desc(), ": already has an adapter");
  add_child(name, a);
  adapter_ = std::move(a);
}

// ---- Embedding ----
Embedding::Embedding(int64_t num, int64_t dim, tensor::Generator* gen) : num_(num), dim_(dim) {
  DIFFLAB_CHECK(num > 0 && dim > 0, "Embedding: sizes must be positive, got ", num, "x", dim);
  weight_ = register_parameter("weight", normal_init({num, dim}, 1.0, gen));
}

Var Embedding::forward(const Tensor& index) const {
  DIFFLAB_CHECK(index.defined() && index.dtype() == DType::i64, "Embedding(", num_, ", ", dim_,
                "): index must be an i64 tensor, got ",
                index.defined() ? index.desc() : std::string("undefined"));
  auto v = index.contiguous().to_vector<int64_t>();
  for (int64_t i : v)
    DIFFLAB_CHECK(i >= 0 && i < num_, "Embedding(", num_, ", ", dim_, "): index ", i,
                  " out of range [0, ", num_, ")");
  return ag::embedding(weight_, index);
}

// ---- GroupNorm ----
GroupNorm::GroupNorm(int64_t groups, int64_t channels, double eps, bool affine)
    : groups_(groups), channels_(channels), eps_(eps) {
  DIFFLAB_CHECK(groups > 0 && channels > 0 && channels % groups == 0, "GroupNorm: groups=", groups,
                " must divide channels=", channels);
  if (affine) {
    weight_ = register_parameter("weight", tensor::ones({channels}));
    bias_ = register_parameter("bias", tensor::zeros({channels}));
  }
}

void GroupNorm::check_input(const Var& x) const {
  DIFFLAB_CHECK(x.defined() && x.dim() >= 2 && x.size(1) == channels_, "GroupNorm(", groups_, ", ",
                channels_, "): input ", x.defined() ? shape_of(x) : "undefined", " must be [N, ",
                channels_, ", ...]");
}

Var GroupNorm::forward(const Var& x) const {
  check_input(x);
  return ag::group_norm(x, groups_, weight_, bias_, eps_);
}

Var GroupNorm::forward_silu(const Var& x) const {
  check_input(x);
  return ag::group_norm_silu(x, groups_, weight_, bias_, eps_);
}

// ---- LayerNorm ----
LayerNorm::LayerNorm(Shape shape, double eps, bool affine) : shape_(std::move(shape)), eps_(eps) {
  DIFFLAB_CHECK(!shape_.empty(), "LayerNorm: normalized shape must not be empty");
  if (affine) {
    weight_ = register_parameter("weight", tensor::ones(shape_));
    bias_ = register_parameter("bias", tensor::zeros(shape_));
  }
}

Var LayerNorm::forward(const Var& x) const {
  const int64_t nd = int64_t(shape_.size());
  bool ok = x.defined() && x.dim() >= nd;
  for (int64_t d = 0; ok && d < nd; ++d) ok = x.size(x.dim() - nd + d) == shape_[size_t(d)];
  DIFFLAB_CHECK(ok, "LayerNorm(", shape_, "): input ", x.defined() ? shape_of(x) : "undefined",
                " must end in ", shape_);
  return ag::layer_norm(x, nd, weight_, bias_, eps_);
}

// ---- Dropout ----
Dropout::Dropout(double p, tensor::Generator* gen) : p_(p), gen_(gen) {
  DIFFLAB_CHECK(p >= 0.0 && p < 1.0, "Dropout: p must be in [0, 1), got ", p);
}

Var Dropout::forward(const Var& x) const { return ag::dropout(x, p_, is_training(), gen_); }

void set_dropout_generator(Module& root, tensor::Generator* gen) {
  visit_modules(root, [gen](const std::string&, Module& m) {
    if (auto* d = dynamic_cast<Dropout*>(&m)) d->set_generator(gen);
  });
}

// ---- activations ----
Var activate(Activation a, const Var& x) {
  switch (a) {
    case Activation::silu:
      return ag::silu(x);
    case Activation::gelu:
      return ag::gelu(x);
    case Activation::relu:
      return ag::relu(x);
    case Activation::tanh:
      return ag::tanh(x);
  }
  DIFFLAB_FAIL("activate: unknown activation ", int(a));
}

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::silu:
      return "silu";
    case Activation::gelu:
      return "gelu";
    case Activation::relu:
      return "relu";
    case Activation::tanh:
      return "tanh";
  }
  return "?";
}

}  // namespace difflab::nn
