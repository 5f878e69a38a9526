#include "nn/cond_mlp.h"

#include <cmath>
#include <sstream>

#include "tensor/factory.h"

namespace difflab::nn {

void CondMLPConfig::validate() const {
  DIFFLAB_CHECK(dim > 0 && hidden > 0 && blocks >= 1, "CondMLPConfig: dim=", dim,
                " and hidden=", hidden, " must be positive and blocks=", blocks, " >= 1");
  DIFFLAB_CHECK(cond_dim >= 0, "CondMLPConfig: cond_dim=", cond_dim, " must be >= 0");
  if (encoder) {
    encoder->validate();
    DIFFLAB_CHECK(cond_dim == encoder->input_dim(), "CondMLPConfig: cond_dim=", cond_dim,
                  " must be the encoder's input size ", encoder->input_dim(), " (", encoder->str(),
                  ")");
  }
  DIFFLAB_CHECK(time_embed_dim >= 2 && time_embed_dim % 2 == 0,
                "CondMLPConfig: time_embed_dim=", time_embed_dim, " must be even and >= 2");
  DIFFLAB_CHECK(std::isfinite(noise_scale) && noise_scale > 0,
                "CondMLPConfig: noise_scale=", noise_scale, " must be positive");
}

std::string CondMLPConfig::str() const {
  std::ostringstream os;
  os << "CondMLP(dim=" << dim << ", cond_dim=" << cond_dim << ", " << blocks << "x" << hidden
     << ", temb=" << time_embed_dim << ", act=" << activation_name(activation);
  if (encoder) os << ", " << encoder->str();
  os << ")";
  return os.str();
}

class CondMLPLayer : public Module {
 public:
  CondMLPLayer(int64_t in, int64_t hidden, int64_t edim, Activation act, tensor::Generator* gen)
      : act_(act) {
    fc_ = register_module("fc", std::make_shared<Linear>(in, hidden, true, gen));
    emb_ = register_module("emb", std::make_shared<Linear>(edim, hidden, true, gen));
  }
  // `s_act` is act(s), shared by every layer.
  Var forward(const Var& h, const Var& s_act) const {
    return activate(act_, ag::add(fc_->forward(h), emb_->forward(s_act)));
  }

 private:
  Activation act_;
  std::shared_ptr<Linear> fc_, emb_;
};

CondMLP::CondMLP(CondMLPConfig cfg, tensor::Generator* gen) : cfg_(std::move(cfg)) {
  cfg_.validate();
  temb_ =
      register_module("temb", std::make_shared<SinusoidalTimeEmbedding>(cfg_.time_embed_dim, gen));
  const int64_t edim = temb_->out_dim();
  if (cfg_.encoder)
    cond_enc_ = register_module("cond_enc", std::make_shared<ConvCondEncoder>(*cfg_.encoder, gen));
  if (cfg_.cond_dim > 0) {
    const int64_t in = cfg_.encoder ? cfg_.encoder->features : cfg_.cond_dim;
    cond_emb_ = register_module("cond_emb", std::make_shared<Linear>(in, edim, true, gen));
  }
  auto layers = register_module("layers", std::make_shared<ModuleList<CondMLPLayer>>());
  for (int64_t k = 0; k < cfg_.blocks; ++k) {
    layers_.push_back(std::make_shared<CondMLPLayer>(k == 0 ? cfg_.dim : cfg_.hidden, cfg_.hidden,
                                                     edim, cfg_.activation, gen));
    layers->push_back(layers_.back());
  }
  out_ = register_module("out", std::make_shared<Linear>(cfg_.hidden, cfg_.dim, true, gen));
}

Var CondMLP::encode_condition(const Var& cond) const {
  if (!cond_emb_) {
    DIFFLAB_CHECK(!cond.defined(), "CondMLP: cond ", cond.value().desc(),
                  " given to an unconditional model (cond_dim = 0)");
    return cond;
  }
  DIFFLAB_CHECK(cond.defined() && cond.dim() == 2 && cond.size(1) == cfg_.cond_dim,
                "CondMLP: cond ", cond.defined() ? cond.value().desc() : std::string("undefined"),
                " must be [B, ", cfg_.cond_dim, "] for ", cfg_.str());
  return cond_enc_ ? cond_enc_->forward(cond) : cond;
}

Var CondMLP::forward(const Var& x, const Tensor& sigma, const Var& cond) const {
  if (cond_emb_ && x.defined())
    DIFFLAB_CHECK(cond.defined() && cond.dim() == 2 && cond.size(0) == x.size(0) &&
                      cond.size(1) == cfg_.cond_dim,
                  "CondMLP: cond ", cond.defined() ? cond.value().desc() : std::string("undefined"),
                  " must be [", x.size(0), ", ", cfg_.cond_dim, "] for ", cfg_.str());
  return forward_encoded(x, sigma, encode_condition(cond));
}

Var CondMLP::forward_encoded(const Var& x, const Tensor& sigma, const Var& features) const {
  DIFFLAB_CHECK(x.defined() && x.dim() == 2 && x.size(1) == cfg_.dim, "CondMLP: input ",
                x.defined() ? x.value().desc() : std::string("undefined"), " must be [B, ",
                cfg_.dim, "] for ", cfg_.str());
  const int64_t b = x.size(0);
  DIFFLAB_CHECK(sigma.defined() && sigma.dim() == 1 && sigma.size(0) == b &&
                    tensor::is_floating(sigma.dtype()),
                "CondMLP: sigma ", sigma.defined() ? sigma.desc() : std::string("undefined"),
                " must be a floating [", b, "] for ", cfg_.str());
  std::vector<double> t = sigma.to(DType::f64).contiguous().to_vector<double>();
  for (double& v : t) {
    DIFFLAB_CHECK(v > 0 && std::isfinite(v), "CondMLP: sigma ", v, " must be positive and finite");
    v = cfg_.noise_scale * std::log(v);
  }
  Var s = temb_->forward(tensor::from_vector(t, {b}, DType::f64).to(sigma.device()));
  if (cond_emb_) {
    const int64_t f = cfg_.encoder ? cfg_.encoder->features : cfg_.cond_dim;
    DIFFLAB_CHECK(
        features.defined() && features.dim() == 2 && features.size(0) == b && features.size(1) == f,
        "CondMLP: cond features ",
        features.defined() ? features.value().desc() : std::string("undefined"), " must be [", b,
        ", ", f, "] for ", cfg_.str());
    s = ag::add(s, cond_emb_->forward(features));
  }
  const Var s_act = activate(cfg_.activation, s);
  Var h = x;
  for (const auto& layer : layers_) h = layer->forward(h, s_act);
  return out_->forward(h);
}

}  // namespace difflab::nn
