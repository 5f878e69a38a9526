// Basic layers with PyTorch's parameter names, shapes and default initialisation: Linear, Conv2d,
// Embedding, GroupNorm, LayerNorm, Dropout, and the SiLU/GELU activations. Every constructor that
// draws random values takes an explicit generator (null = tensor::default_generator()).
// Input errors name the layer and its configuration, e.g. "Conv2d(3->32, k=3): ...".
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "autograd/functions.h"
#include "nn/module.h"
#include "tensor/random.h"

namespace difflab::nn {

// An additive side branch of a Linear or Conv2d (e.g. LoRA, nn/lora.h): the layer's output
// becomes base(x) + delta(x) while the adapter is active.
class Adapter : public Module {
 public:
  virtual Var delta(const Var& x) const = 0;
  virtual bool active() const { return true; }
};

class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true,
         tensor::Generator* gen = nullptr);
  Var forward(const Var& x) const;               // [..., in] -> [..., out]
  const Var& weight() const { return weight_; }  // [out, in]
  const Var& bias() const { return bias_; }      // [out] or undefined
  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }
  std::string desc() const;
  // Registers `a` as child `name` (its parameters get that prefix); at most one adapter.
  void set_adapter(const std::string& name, std::shared_ptr<Adapter> a);
  Adapter* adapter() const { return adapter_.get(); }

 private:
  int64_t in_, out_;
  Var weight_, bias_;
  std::shared_ptr<Adapter> adapter_;
};

class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t stride = 1,
         int64_t padding = 0, int64_t dilation = 1, int64_t groups = 1, bool bias = true,
         tensor::Generator* gen = nullptr);
  Var forward(const Var& x) const;               // [N, Cin, H, W] -> [N, Cout, H', W']
  const Var& weight() const { return weight_; }  // [Cout, Cin/groups, k, k]
  const Var& bias() const { return bias_; }
  int64_t in_channels() const { return cin_; }
  int64_t out_channels() const { return cout_; }
  int64_t kernel() const { return k_; }
  const tensor::Conv2dParams& params() const { return p_; }
  std::string desc() const;
  void set_adapter(const std::string& name, std::shared_ptr<Adapter> a);
  Adapter* adapter() const { return adapter_.get(); }

 private:
  int64_t cin_, cout_, k_;
  tensor::Conv2dParams p_;
  Var weight_, bias_;
  std::shared_ptr<Adapter> adapter_;
};

// Rows of a [num, dim] table, initialised N(0, 1) as nn.Embedding.
class Embedding : public Module {
 public:
  Embedding(int64_t num, int64_t dim, tensor::Generator* gen = nullptr);
  Var forward(const Tensor& index) const;  // i64 [...] in [0, num) -> [..., dim]
  const Var& weight() const { return weight_; }
  int64_t num() const { return num_; }
  int64_t embedding_dim() const { return dim_; }

 private:
  int64_t num_, dim_;
  Var weight_;
};

class GroupNorm : public Module {
 public:
  GroupNorm(int64_t groups, int64_t channels, double eps = 1e-5, bool affine = true);
  Var forward(const Var& x) const;       // [N, C, *]
  Var forward_silu(const Var& x) const;  // silu(forward(x)), fused (ag::group_norm_silu)
  const Var& weight() const { return weight_; }
  const Var& bias() const { return bias_; }

 private:
  void check_input(const Var& x) const;
  int64_t groups_, channels_;
  double eps_;
  Var weight_, bias_;
};

// Normalises over the trailing `shape` dims.
class LayerNorm : public Module {
 public:
  explicit LayerNorm(Shape shape, double eps = 1e-5, bool affine = true);
  Var forward(const Var& x) const;
  const Var& weight() const { return weight_; }
  const Var& bias() const { return bias_; }

 private:
  Shape shape_;
  double eps_;
  Var weight_, bias_;
};

// Inverted dropout, active only in train mode. The generator is used for every mask (null =
// tensor::default_generator()); pass one explicitly for reproducible training.
class Dropout : public Module {
 public:
  explicit Dropout(double p, tensor::Generator* gen = nullptr);
  Var forward(const Var& x) const;
  double p() const { return p_; }
  void set_generator(tensor::Generator* gen) { gen_ = gen; }

 private:
  double p_;
  tensor::Generator* gen_;
};
// Points every Dropout under `root` at `gen`.
void set_dropout_generator(Module& root, tensor::Generator* gen);

enum class Activation { silu, gelu, relu, tanh };
Var activate(Activation a, const Var& x);
const char* activation_name(Activation a);

class SiLU : public Module {
 public:
  Var forward(const Var& x) const { return ag::silu(x); }
};
class GELU : public Module {
 public:
  Var forward(const Var& x) const { return ag::gelu(x); }
};

}  // namespace difflab::nn
