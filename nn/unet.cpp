#include "nn/unet.h"

#include <algorithm>
#include <regex>
#include <sstream>

#include "autograd/checkpoint.h"
#include "autograd/grad_mode.h"
#include "tensor/factory.h"

namespace difflab::nn {

// ---- config ----
void UNetConfig::validate() const {
  DIFFLAB_CHECK(in_channels > 0 && out_channels >= 0, "UNetConfig: in_channels=", in_channels,
                " and out_channels=", out_channels, " must be positive (out 0 = in)");
  DIFFLAB_CHECK(base_channels > 0 && base_channels % 2 == 0,
                "UNetConfig: base_channels=", base_channels, " must be positive and even");
  DIFFLAB_CHECK(!channel_mults.empty(), "UNetConfig: channel_mults must not be empty");
  for (int64_t m : channel_mults)
    DIFFLAB_CHECK(m > 0 && (base_channels * m) % norm_groups == 0, "UNetConfig: channels ",
                  base_channels, "·", m,
                  " must be positive and divisible by norm_groups=", norm_groups);
  DIFFLAB_CHECK(num_res_blocks >= 1, "UNetConfig: num_res_blocks=", num_res_blocks,
                " must be >= 1");
  DIFFLAB_CHECK(dropout >= 0.0 && dropout < 1.0, "UNetConfig: dropout=", dropout,
                " must be in [0, 1)");
  DIFFLAB_CHECK(num_classes >= 0, "UNetConfig: num_classes=", num_classes, " must be >= 0");
  const int64_t levels = int64_t(channel_mults.size());
  const int64_t factor = int64_t(1) << (levels - 1);
  DIFFLAB_CHECK(image_size > 0 && image_size % factor == 0, "UNetConfig: image_size=", image_size,
                " must be divisible by 2^(levels-1)=", factor, " for ", levels, " levels");
  for (int64_t r : attention_resolutions) {
    bool found = false;
    for (int64_t i = 0; i < levels; ++i) found = found || (image_size >> i) == r;
    DIFFLAB_CHECK(found, "UNetConfig: attention resolution ", r, " matches no level (image_size ",
                  image_size, " halved ", levels - 1, " times)");
  }
}

std::string UNetConfig::str() const {
  std::ostringstream os;
  os << "UNet(in=" << in_channels << ", out=" << (out_channels ? out_channels : in_channels)
     << ", base=" << base_channels << ", mults=" << channel_mults
     << ", res_blocks=" << num_res_blocks << ", attn=" << attention_resolutions
     << ", dropout=" << dropout << ", classes=" << num_classes << ", size=" << image_size << ")";
  return os.str();
}

// ---- one level ----
class UNetStage : public Module {
 public:
  UNetStage(int64_t cin, int64_t ch, int64_t blocks, bool attention, bool downsample,
            const UNetConfig& cfg, int64_t edim, tensor::Generator* gen) {
    auto res = std::make_shared<ModuleList<ResBlock>>();
    for (int64_t j = 0; j < blocks; ++j)
      res->push_back(std::make_shared<ResBlock>(j == 0 ? cin : ch, ch, edim, cfg.norm_groups,
                                                cfg.dropout, gen));
    res_ = register_module("res", res);
    if (attention) {
      auto attn = std::make_shared<ModuleList<AttentionBlock>>();
      for (int64_t j = 0; j < blocks; ++j)
        attn->push_back(std::make_shared<AttentionBlock>(ch, cfg.norm_groups, gen));
      attn_ = register_module("attn", attn);
    }
    if (downsample)
      down_ = register_module("down", std::make_shared<Conv2d>(ch, ch, 3, 2, 1, 1, 1, true, gen));
  }
  Var blocks(Var h, const Var& e) const {
    for (size_t j = 0; j < res_->size(); ++j) {
      h = (*res_)[j].forward(h, e);
      if (attn_) h = (*attn_)[j].forward(h);
    }
    return h;
  }
  Var downsample(const Var& h) const { return down_->forward(h); }

 private:
  std::shared_ptr<ModuleList<ResBlock>> res_;
  std::shared_ptr<ModuleList<AttentionBlock>> attn_;
  std::shared_ptr<Conv2d> down_;
};

namespace {
// A parameter-free container so that children get Sequential-style names ("out.0", "out.2").
class Holder : public Module {
 public:
  template <typename M>
  std::shared_ptr<M> add(const std::string& name, std::shared_ptr<M> m) {
    return register_module(name, std::move(m));
  }
};
}  // namespace

// ---- model ----
UNet::UNet(UNetConfig cfg, tensor::Generator* gen) : cfg_(std::move(cfg)) {
  cfg_.validate();
  const int64_t levels = int64_t(cfg_.channel_mults.size());
  const int64_t edim = embed_dim(), g = cfg_.norm_groups;
  auto ch = [&](int64_t i) { return cfg_.base_channels * cfg_.channel_mults[size_t(i)]; };
  auto attn_at = [&](int64_t level) {
    const auto& a = cfg_.attention_resolutions;
    return std::find(a.begin(), a.end(), cfg_.image_size >> level) != a.end();
  };
  // Generator draws follow the reference's construction order: embedding, encoder, middle,
  // decoder from the deepest level up, output.
  temb_ =
      register_module("temb", std::make_shared<SinusoidalTimeEmbedding>(cfg_.base_channels, gen));
  if (cfg_.num_classes > 0)
    label_emb_ =
        register_module("label_emb", std::make_shared<Embedding>(cfg_.num_classes + 1, edim, gen));
  inp_ = register_module(
      "inp", std::make_shared<Conv2d>(cfg_.in_channels, ch(0), 3, 1, 1, 1, 1, true, gen));
  if (levels > 1) {
    auto down = register_module("down", std::make_shared<ModuleList<UNetStage>>());
    for (int64_t i = 0; i + 1 < levels; ++i) {
      down_.push_back(std::make_shared<UNetStage>(
          ch(i == 0 ? 0 : i - 1), ch(i), cfg_.num_res_blocks, attn_at(i), true, cfg_, edim, gen));
      down->push_back(down_.back());
    }
  }
  auto mid = register_module("mid", std::make_shared<Holder>());
  mid_holder_ = mid;
  const int64_t cm = ch(levels - 1);
  mid1_ = mid->add("res1", std::make_shared<ResBlock>(ch(std::max<int64_t>(levels - 2, 0)), cm,
                                                      edim, g, cfg_.dropout, gen));
  mid_attn_ = mid->add("attn", std::make_shared<AttentionBlock>(cm, g, gen));
  mid2_ = mid->add("res2", std::make_shared<ResBlock>(cm, cm, edim, g, cfg_.dropout, gen));
  if (levels > 1) {
    // Listed as up.0 … up.(L−2) but built deepest first, the order in which forward uses them.
    up_.resize(size_t(levels - 1));
    for (int64_t i = levels - 2; i >= 0; --i)
      up_[size_t(i)] = std::make_shared<UNetStage>(ch(i + 1) + ch(i), ch(i), cfg_.num_res_blocks,
                                                   attn_at(i), false, cfg_, edim, gen);
    auto up = register_module("up", std::make_shared<ModuleList<UNetStage>>());
    for (auto& s : up_) up->push_back(s);
  }
  auto out = register_module("out", std::make_shared<Holder>());
  out_norm_ = out->add("0", std::make_shared<GroupNorm>(g, ch(0)));
  const int64_t cout = cfg_.out_channels ? cfg_.out_channels : cfg_.in_channels;
  out_conv_ = out->add("2", std::make_shared<Conv2d>(ch(0), cout, 3, 1, 1, 1, 1, true, gen));
}

int64_t UNet::add_class(const Tensor& init) {
  DIFFLAB_CHECK(label_emb_, "UNet::add_class: the model is unconditional (num_classes = 0)");
  const int64_t d = embed_dim();
  DIFFLAB_CHECK(init.defined() && init.numel() == d && init.dtype() == label_emb_->weight().dtype(),
                "UNet::add_class: init ", init.defined() ? init.desc() : std::string("undefined"),
                " must hold ", d, " values of the embedding's dtype");
  const std::string name = "label_new." + std::to_string(new_rows_.size());
  new_rows_.push_back(register_parameter(name, init.reshape({1, d}).clone()));
  return cfg_.num_classes + int64_t(new_rows_.size());
}

// The label rows [B, embed_dim]: the base table, with added classes appended after the null row.
Var UNet::label_embedding(const Tensor& labels, int64_t batch, const tensor::Device& device) const {
  Tensor lab = labels;
  if (!lab.defined()) lab = tensor::full({batch}, double(cfg_.num_classes), DType::i64, device);
  DIFFLAB_CHECK(lab.dtype() == DType::i64 && lab.dim() == 1 && lab.size(0) == batch, "UNet: labels ",
                lab.desc(), " must be i64 [", batch, "]");
  if (new_rows_.empty()) return label_emb_->forward(lab);
  const int64_t rows = cfg_.num_classes + 1 + int64_t(new_rows_.size());
  for (int64_t i : lab.contiguous().to_vector<int64_t>())
    DIFFLAB_CHECK(i >= 0 && i < rows, "UNet: label ", i, " out of range [0, ", rows, ")");
  std::vector<Var> parts{label_emb_->weight()};
  parts.insert(parts.end(), new_rows_.begin(), new_rows_.end());
  return ag::embedding(ag::cat(parts, 0), lab);
}

Var UNet::forward(const Var& x, const Tensor& t, const Tensor& labels) const {
  const int64_t s = cfg_.image_size;
  DIFFLAB_CHECK(x.defined() && x.dim() == 4 && x.size(1) == cfg_.in_channels && x.size(2) == s &&
                    x.size(3) == s,
                "UNet: input ", x.defined() ? x.value().desc() : std::string("undefined"),
                " must be [B, ", cfg_.in_channels, ", ", s, ", ", s, "] for ", cfg_.str());
  const int64_t b = x.size(0);
  DIFFLAB_CHECK(t.defined() && t.dim() == 1 && t.size(0) == b, "UNet: timesteps ",
                t.defined() ? t.desc() : std::string("undefined"), " must be [", b, "] for input ",
                x.value().desc());
  Var e = temb_->forward(t);
  if (label_emb_) {
    e = ag::add(e, label_embedding(labels, b, x.value().device()));
  } else {
    DIFFLAB_CHECK(!labels.defined(), "UNet: labels ", labels.desc(),
                  " given to an unconditional model (num_classes = 0)");
  }
  Var h = inp_->forward(x);
  std::vector<Var> skips;
  for (const auto& stage : down_) {
    UNetStage* st = stage.get();
    h = run_level([st](const Var& a, const Var& b) { return st->blocks(a, b); }, *stage, h, e);
    skips.push_back(h);
    h = stage->downsample(h);
  }
  h = run_level(
      [this](const Var& a, const Var& b) {
        return mid2_->forward(mid_attn_->forward(mid1_->forward(a, b)), b);
      },
      *mid_holder_, h, e);
  for (size_t i = up_.size(); i-- > 0;) {
    h = ag::cat({ag::upsample_nearest2d(h, 2), skips[i]}, 1);
    UNetStage* st = up_[i].get();
    h = run_level([st](const Var& a, const Var& b) { return st->blocks(a, b); }, *up_[i], h, e);
  }
  return out_conv_->forward(out_norm_->forward_silu(h));
}

Var UNet::run_level(const std::function<Var(const Var&, const Var&)>& fn, const Module& owner,
                    const Var& h, const Var& e) const {
  if (!level_checkpointing_ || !ag::GradMode::is_enabled()) return fn(h, e);
  DIFFLAB_CHECK(cfg_.dropout == 0 || !is_training(), "UNet: level checkpointing with dropout ",
                cfg_.dropout, " in training mode would draw other masks when it recomputes");
  return ag::checkpoint([fn](const std::vector<Var>& in) { return fn(in[0], in[1]); }, {h, e},
                        owner.parameters());
}

// ---- reference names ----
namespace {
struct Rule {
  std::regex from;
  std::string prefix;  // prefix of the result, before the captured number (if any)
  int shift;           // added to the captured number
  std::string middle;  // after the number
};

std::string apply_rules(const std::string& name, const std::vector<Rule>& rules, const char* what) {
  std::smatch m;
  for (const auto& r : rules) {
    if (!std::regex_match(name, m, r.from)) continue;
    if (m.size() == 3)
      return r.prefix + std::to_string(std::stol(m[1].str()) + r.shift) + r.middle + m[2].str();
    return r.prefix + m[1].str();
  }
  DIFFLAB_FAIL(what, ": no counterpart for '", name,
               "' (the reference has one ResBlock per level, attention only in the middle, no "
               "label embedding)");
}
}  // namespace

std::string unet_reference_name(const std::string& n) {
  static const std::vector<Rule> rules = {
      {std::regex(R"(down\.(\d+)\.res\.0\.(.+))"), "d", 1, "."},
      {std::regex(R"(down\.(\d+)\.down\.(.+))"), "down", 1, "."},
      {std::regex(R"(up\.(\d+)\.res\.0\.(.+))"), "u", 1, "."},
      {std::regex(R"(mid\.res1\.(.+))"), "m1.", 0, ""},
      {std::regex(R"(mid\.attn\.(.+))"), "ma.", 0, ""},
      {std::regex(R"(mid\.res2\.(.+))"), "m2.", 0, ""},
      {std::regex(R"(((?:temb|inp|out)\..+))"), "", 0, ""},
  };
  return apply_rules(n, rules, "unet_reference_name");
}

std::string unet_name_from_reference(const std::string& n) {
  static const std::vector<Rule> rules = {
      {std::regex(R"(d(\d+)\.(.+))"), "down.", -1, ".res.0."},
      {std::regex(R"(down(\d+)\.(.+))"), "down.", -1, ".down."},
      {std::regex(R"(u(\d+)\.(.+))"), "up.", -1, ".res.0."},
      {std::regex(R"(m1\.(.+))"), "mid.res1.", 0, ""},
      {std::regex(R"(ma\.(.+))"), "mid.attn.", 0, ""},
      {std::regex(R"(m2\.(.+))"), "mid.res2.", 0, ""},
      {std::regex(R"(((?:temb|inp|out)\..+))"), "", 0, ""},
  };
  return apply_rules(n, rules, "unet_name_from_reference");
}

StateDict unet_state_dict_from_reference(const StateDict& reference) {
  StateDict out;
  for (const auto& [k, v] : reference) out[unet_name_from_reference(k)] = v;
  return out;
}

StateDict unet_state_dict_to_reference(const StateDict& difflab) {
  StateDict out;
  for (const auto& [k, v] : difflab) out[unet_reference_name(k)] = v;
  return out;
}

}  // namespace difflab::nn
