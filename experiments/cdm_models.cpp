#include "experiments/cdm_models.h"

#include <cstdio>

#include "autograd/functions.h"
#include "experiments/cancel.h"
#include "experiments/io.h"
#include "experiments/train_ddpm.h"
#include "nn/safetensors.h"

namespace difflab::experiments {

using ag::Var;

namespace {

const char* kind_name(CdmModelKind k) {
  return k == CdmModelKind::prior ? "prior" : k == CdmModelKind::inner ? "inner" : "baseline";
}

std::string weights_of(const CdmModelRun& m) {
  return m.dir + (m.kind == CdmModelKind::prior ? "/checkpoints/ema.safetensors"
                                                : "/checkpoints/model.safetensors");
}

}  // namespace

bool ensure_cdm_model(const CdmModelRun& m, int64_t threads, const std::string& device) {
  const std::string weights = weights_of(m), command =
      m.kind == CdmModelKind::prior ? "train-ddpm" : "train-cond";
  if (file_exists(m.dir + "/report.html") && file_exists(weights)) return false;
  DIFFLAB_CHECK(!m.preset.empty() || file_exists(weights), "cdm.", kind_name(m.kind), ": no trained ",
                kind_name(m.kind), " model in '", m.dir, "' (", weights, " is missing); train one with `difflab ",
                command, " --run ", m.dir, "`, or set cdm.", kind_name(m.kind), "_preset");
  if (m.preset.empty()) return false;  // weights without a finished run: use them as they are
  const bool resume = file_exists(m.dir + "/config.json");
  std::fprintf(stderr, "training the %s model first: difflab %s --preset %s --run %s%s\n",
               kind_name(m.kind), command.c_str(), m.preset.c_str(), m.dir.c_str(),
               resume ? " --resume" : "");
  CommandArgs a;
  a.preset = m.preset;
  Config cfg = command_config(m.kind == CdmModelKind::prior ? ddpm_config() : cond_config(), a,
                              m.dir, resume);
  cfg.put("threads", threads).put("device", device);
  if (m.kind == CdmModelKind::prior) train_ddpm(cfg, m.dir, resume);
  else train_cond(cfg, m.dir, resume);
  DIFFLAB_CHECK(!cancel_requested(), "cdm: interrupted while training the ", kind_name(m.kind),
                " model in '", m.dir, "'; the same command resumes it");
  return true;
}

CdmPrior load_cdm_prior(const std::string& dir, const tensor::Device& device) {
  CommandArgs none;
  Config cfg = command_config(ddpm_config(), none, dir, true);
  cfg.put("device", device.str());
  const DdpmRunSettings rs = ddpm_run_settings(cfg);
  DIFFLAB_CHECK(!rs.model.class_cond, "cdm.prior: the run in '", dir, "' is class-conditional");
  const Dataset data = load_dataset(rs.data);
  CdmPrior p;
  p.model = make_ddpm_model(rs.model, data);
  nn::load_module(dir + "/checkpoints/ema.safetensors", *p.model.module);
  p.model.module->eval();
  p.vp = diffusion::vp_model(p.model.net, p.model.param);
  p.dim = data.train.size(1);
  if (data.images) {
    p.image = {data.train.size(1), data.train.size(2), data.train.size(3)};
    p.dim = p.image[0] * p.image[1] * p.image[2];
    p.vp = [vp = p.vp, shape = p.image](const Var& z, const diffusion::NoiseLevel& at) {
      const int64_t r = z.size(0);
      const diffusion::Denoised d = vp(ag::reshape(z, {r, shape[0], shape[1], shape[2]}), at);
      return diffusion::Denoised{ag::reshape(d.x0, {r, z.size(1)}),
                                 ag::reshape(d.eps, {r, z.size(1)})};
    };
  }
  return p;
}

}  // namespace difflab::experiments
