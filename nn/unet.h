// Configurable U-Net for ε/x/v prediction on images. Its default configuration computes exactly
// the reference model of /work/shared/reference/torch_unet_anchor.py (994,593 parameters):
// channels 32/64/128 at 28/14/7, one ResBlock per level, attention only in the middle block.
//
// Layout for L = channel_mults.size() levels, ch_i = base_channels · channel_mults[i]:
//   temb   SinusoidalTimeEmbedding(base) -> e [B, 4·base]; plus label_emb(label) when
//          num_classes > 0 (num_classes + 1 rows: the last is the null class of
//          classifier-free guidance, used when no labels are given)
//   inp    conv3x3 in_channels -> ch_0
//   down.i (i < L−1, resolution S/2^i): res.j = ResBlock (first: ch_{i−1} -> ch_i, ch_{−1} = ch_0),
//          attn.j after res.j when S/2^i is in attention_resolutions; the level's output is the
//          skip; then down = conv3x3 stride 2 (ch_i -> ch_i)
//   mid    (resolution S/2^(L−1)): res1 ch_{L−2} -> ch_{L−1}, attn, res2
//   up.i   (i = L−2 … 0): upsample ×2 (nearest), concat skip_i, res.0 (ch_{i+1} + ch_i -> ch_i),
//          res.j (j > 0, ch_i -> ch_i), attn.j as in the encoder
//   out    out.0 GroupNorm -> SiLU -> out.2 conv3x3 ch_0 -> out_channels
// Dropout (config.dropout > 0) sits in every ResBlock and draws from the default generator
// unless nn::set_dropout_generator(unet, &gen) points it elsewhere.
// The names differ from the reference's (d1, down1, m1, ma, u2, ...); unet_reference_name maps
// them for configurations shaped like the reference (one ResBlock per level, no level attention,
// no classes).
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "nn/attention.h"
#include "nn/resblock.h"
#include "nn/time_embedding.h"

namespace difflab::nn {

struct UNetConfig {
  int64_t in_channels = 1;
  int64_t out_channels = 0;  // 0 = in_channels
  int64_t base_channels = 32;
  std::vector<int64_t> channel_mults{1, 2, 4};
  int64_t num_res_blocks = 1;
  std::vector<int64_t> attention_resolutions{};  // e.g. {14}: levels at 14×14 get attention
  double dropout = 0.0;
  int64_t num_classes = 0;  // 0 = unconditional
  int64_t image_size = 28;  // must be divisible by 2^(L−1)
  int64_t norm_groups = 8;

  void validate() const;  // throws naming the offending field
  std::string str() const;
};

class UNetStage;  // one encoder or decoder level (unet.cpp)

class UNet : public Module {
 public:
  explicit UNet(UNetConfig cfg = {}, tensor::Generator* gen = nullptr);
  // x [B, in, S, S], t [B] floating timesteps (fed to the sinusoidal embedding as given),
  // labels i64 [B] in [0, num_classes] (num_classes = null class) or undefined.
  Var forward(const Var& x, const Tensor& t, const Tensor& labels = Tensor()) const;
  const UNetConfig& config() const { return cfg_; }
  // Checkpointing inside the network, per resolution level (spec_distillation_implicit §4.3 2):
  // each encoder and decoder level's blocks and the middle block keep only their inputs and
  // recompute their activations during backward. Same outputs and gradients; a forward with
  // grad recording keeps about one level's activations instead of all of them.
  void set_level_checkpointing(bool on) { level_checkpointing_ = on; }
  bool level_checkpointing() const { return level_checkpointing_; }
  int64_t embed_dim() const { return 4 * cfg_.base_channels; }
  // Adds a trainable class-embedding row (textual inversion: a new class for a frozen model),
  // parameter "label_new.<k>" [1, embed_dim] initialised to `init` ([embed_dim] or [1, embed_dim]).
  // Its label is num_classes + 1 + k for the k-th added row; the base table is left as it is.
  // Returns the new label. Throws for an unconditional model.
  int64_t add_class(const Tensor& init);
  int64_t added_classes() const { return int64_t(new_rows_.size()); }

 private:
  Var label_embedding(const Tensor& labels, int64_t batch, const tensor::Device& device) const;
  Var run_level(const std::function<Var(const Var&, const Var&)>& fn, const Module& owner,
                const Var& h, const Var& e) const;

  UNetConfig cfg_;
  bool level_checkpointing_ = false;
  std::shared_ptr<SinusoidalTimeEmbedding> temb_;
  std::shared_ptr<Embedding> label_emb_;
  std::vector<Var> new_rows_;  // add_class
  std::shared_ptr<Conv2d> inp_;
  std::vector<std::shared_ptr<UNetStage>> down_, up_;  // up_[i] is level i
  std::shared_ptr<ResBlock> mid1_, mid2_;
  std::shared_ptr<AttentionBlock> mid_attn_;
  std::shared_ptr<Module> mid_holder_;  // owns mid1_, mid_attn_, mid2_
  std::shared_ptr<GroupNorm> out_norm_;
  std::shared_ptr<Conv2d> out_conv_;
};

// The reference model's name for a difflab U-Net parameter ("down.0.res.0.c1.weight" ->
// "d1.c1.weight"), and back. Throws for names with no counterpart in the reference layout.
std::string unet_reference_name(const std::string& difflab_name);
std::string unet_name_from_reference(const std::string& reference_name);
// Renames a whole state dict (tensors shared, not copied).
StateDict unet_state_dict_from_reference(const StateDict& reference);
StateDict unet_state_dict_to_reference(const StateDict& difflab);

}  // namespace difflab::nn
