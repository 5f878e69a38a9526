#include "nn/mlp_score.h"

#include <sstream>

#include "tensor/factory.h"

namespace difflab::nn {

void MLPScoreNetConfig::validate() const {
  DIFFLAB_CHECK(dim > 0 && hidden > 0 && depth >= 0, "MLPScoreNetConfig: dim=", dim,
                " hidden=", hidden, " must be positive and depth=", depth, " >= 0");
  DIFFLAB_CHECK(time_embed_dim >= 2 && time_embed_dim % 2 == 0,
                "MLPScoreNetConfig: time_embed_dim=", time_embed_dim, " must be even and >= 2");
  DIFFLAB_CHECK(num_classes >= 0, "MLPScoreNetConfig: num_classes=", num_classes, " must be >= 0");
}

std::string MLPScoreNetConfig::str() const {
  std::ostringstream os;
  os << "MLPScoreNet(dim=" << dim << ", hidden=" << hidden << ", depth=" << depth
     << ", temb=" << time_embed_dim << ", classes=" << num_classes
     << ", act=" << activation_name(activation) << ")";
  return os.str();
}

class MLPScoreBlock : public Module {
 public:
  MLPScoreBlock(int64_t hidden, int64_t edim, Activation act, tensor::Generator* gen) : act_(act) {
    fc1_ = register_module("fc1", std::make_shared<Linear>(hidden, hidden, true, gen));
    t_ = register_module("t", std::make_shared<Linear>(edim, hidden, true, gen));
    fc2_ = register_module("fc2", std::make_shared<Linear>(hidden, hidden, true, gen));
  }
  Var forward(const Var& h, const Var& e) const {
    Var u = ag::add(fc1_->forward(activate(act_, h)), t_->forward(e));
    return ag::add(h, fc2_->forward(activate(act_, u)));
  }

 private:
  Activation act_;
  std::shared_ptr<Linear> fc1_, t_, fc2_;
};

MLPScoreNet::MLPScoreNet(MLPScoreNetConfig cfg, tensor::Generator* gen) : cfg_(std::move(cfg)) {
  cfg_.validate();
  temb_ =
      register_module("temb", std::make_shared<SinusoidalTimeEmbedding>(cfg_.time_embed_dim, gen));
  const int64_t edim = temb_->out_dim();
  if (cfg_.num_classes > 0)
    label_emb_ =
        register_module("label_emb", std::make_shared<Embedding>(cfg_.num_classes + 1, edim, gen));
  inp_ = register_module("inp", std::make_shared<Linear>(cfg_.dim, cfg_.hidden, true, gen));
  auto blocks = register_module("blocks", std::make_shared<ModuleList<MLPScoreBlock>>());
  for (int64_t k = 0; k < cfg_.depth; ++k) {
    blocks_.push_back(std::make_shared<MLPScoreBlock>(cfg_.hidden, edim, cfg_.activation, gen));
    blocks->push_back(blocks_.back());
  }
  out_ = register_module("out", std::make_shared<Linear>(cfg_.hidden, cfg_.dim, true, gen));
}

Var MLPScoreNet::forward(const Var& x, const Tensor& t, const Tensor& labels) const {
  DIFFLAB_CHECK(x.defined() && x.dim() == 2 && x.size(1) == cfg_.dim, "MLPScoreNet: input ",
                x.defined() ? x.value().desc() : std::string("undefined"), " must be [B, ",
                cfg_.dim, "] for ", cfg_.str());
  const int64_t b = x.size(0);
  DIFFLAB_CHECK(t.defined() && t.dim() == 1 && t.size(0) == b, "MLPScoreNet: timesteps ",
                t.defined() ? t.desc() : std::string("undefined"), " must be [", b, "]");
  Var e = temb_->forward(t);
  if (label_emb_) {
    Tensor lab =
        labels.defined() ? labels
                         : tensor::full({b}, double(cfg_.num_classes), DType::i64,
                                        x.value().device());
    DIFFLAB_CHECK(lab.dtype() == DType::i64 && lab.dim() == 1 && lab.size(0) == b,
                  "MLPScoreNet: labels ", lab.desc(), " must be i64 [", b, "]");
    e = ag::add(e, label_emb_->forward(lab));
  } else {
    DIFFLAB_CHECK(!labels.defined(), "MLPScoreNet: labels ", labels.desc(),
                  " given to an unconditional model (num_classes = 0)");
  }
  Var h = inp_->forward(x);
  for (const auto& blk : blocks_) h = blk->forward(h, e);
  return out_->forward(activate(cfg_.activation, h));
}

}  // namespace difflab::nn
