// LoRA (Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models", eq. 3):
// h = W₀x + (α/r)·B A x with W₀ frozen, A ~ kaiming-uniform (as PEFT) and B = 0, so the adapted
// model starts exactly at the base model.
//   Linear [out, in]:     A [r, in], B [out, r]
//   Conv2d [cout, cin, k, k] (groups 1): A is a conv [r, cin, k, k] with the base's stride,
//   padding and dilation, B a 1x1 conv [cout, r, 1, 1]; B·A is then a conv of the base's shape.
// The adapter hangs off the layer as child "lora" (parameters "<layer>.lora.A", ".lora.B") and
// the layer adds its output (nn::Adapter), so call sites of the layer do not change.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "nn/layers.h"

namespace difflab::nn {

struct LoRAConfig {
  int64_t rank = 4;
  double alpha = 4.0;  // the update is scaled by alpha / rank
};

class LoRA : public Adapter {
 public:
  enum class Kind { linear, conv2d };
  LoRA(Kind kind, Var base_weight, tensor::Conv2dParams conv, const LoRAConfig& cfg,
       tensor::Generator* gen);
  Var delta(const Var& x) const override;
  bool active() const override { return !merged_; }
  // (alpha/rank) · B·A in the base weight's shape.
  Tensor delta_weight() const;
  // Adds delta_weight() into the base weight; the adapter then stops contributing and A, B are
  // frozen. Throws when already merged.
  void merge();
  bool merged() const { return merged_; }
  double scale() const { return scale_; }
  const Var& A() const { return a_; }
  const Var& B() const { return b_; }

 private:
  Kind kind_;
  Var base_weight_;  // a handle on the layer's weight (same storage)
  tensor::Conv2dParams conv_;
  double scale_;
  Var a_, b_;
  bool merged_ = false;
};

// Attach an adapter to one layer and freeze the layer's weight and bias.
std::shared_ptr<LoRA> add_lora(Linear& layer, const LoRAConfig& cfg,
                               tensor::Generator* gen = nullptr);
std::shared_ptr<LoRA> add_lora(Conv2d& layer, const LoRAConfig& cfg,
                               tensor::Generator* gen = nullptr);

using ModuleFilter = std::function<bool(const std::string& path)>;
// Freezes every parameter under `root`, then adds LoRA to each Linear and Conv2d (groups 1, no
// adapter yet) whose dotted path passes `filter` (empty = all). Returns the adapted paths.
std::vector<std::string> apply_lora(Module& root, const LoRAConfig& cfg,
                                    const ModuleFilter& filter = {},
                                    tensor::Generator* gen = nullptr);
// Merges every unmerged LoRA under `root` into its base weight; returns how many.
int64_t merge_lora(Module& root);

}  // namespace difflab::nn
