#include "nn/train_state.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace difflab::nn {

namespace {

using json = nlohmann::json;

constexpr const char* kFormatKey = "format";
constexpr const char* kFormat = "difflab.train_state";
constexpr const char* kStateKey = "train_state";

StateDict clone_all(const StateDict& sd) {
  StateDict out;
  for (auto& [k, t] : sd) out[k] = t.clone();
  return out;
}

// The model's name for each optimizer parameter.
std::vector<std::string> optimizer_names(const Module& model, const Optimizer& opt,
                                         const char* op) {
  auto named = model.named_parameters();
  std::vector<std::string> names;
  for (size_t i = 0; i < opt.size(); ++i) {
    const Var& p = opt.params()[i];
    auto it =
        std::find_if(named.begin(), named.end(), [&](const auto& nv) { return nv.second.same(p); });
    DIFFLAB_CHECK(it != named.end(), op, ": optimizer parameter ", i,
                  " is not a parameter of the model");
    names.push_back(it->first);
  }
  return names;
}

}  // namespace

TrainState capture_train_state(int64_t step, const Module& model, const Optimizer& opt,
                               const Ema* ema, const tensor::Generator& gen,
                               int64_t data_position) {
  TrainState st;
  st.step = step;
  st.data_position = data_position;
  st.rng_seed = gen.seed();
  st.rng_offset = gen.offset();
  st.model = clone_all(model.state_dict());
  st.optimizer_type = opt.type();
  st.lr = opt.lr();
  st.optimizer = clone_all(opt.state_dict(optimizer_names(model, opt, "capture_train_state")));
  if (ema) {
    st.has_ema = true;
    st.ema_updates = ema->num_updates();
    st.ema = clone_all(ema->state_dict());
  }
  return st;
}

void restore_train_state(const TrainState& st, Module& model, Optimizer& opt, Ema* ema,
                         tensor::Generator& gen) {
  DIFFLAB_CHECK(st.optimizer_type == opt.type(), "restore_train_state: the state was saved by ",
                st.optimizer_type, " but the optimizer is ", opt.type());
  DIFFLAB_CHECK(!ema || st.has_ema,
                "restore_train_state: an EMA was given but the state has no EMA shadows");
  model.load_state_dict(st.model, /*strict=*/true);
  opt.load_state_dict(st.optimizer, optimizer_names(model, opt, "restore_train_state"));
  opt.set_lr(st.lr);
  if (ema) {
    ema->load_state_dict(st.ema);
    ema->set_num_updates(st.ema_updates);
  }
  gen = tensor::Generator(st.rng_seed, st.rng_offset);
}

void save_train_state(const std::string& path, const TrainState& st) {
  std::map<std::string, Tensor> tensors;
  for (auto& [k, t] : st.model) tensors["model." + k] = t;
  for (auto& [k, t] : st.optimizer) tensors["optimizer." + k] = t;
  for (auto& [k, t] : st.ema) tensors["ema." + k] = t;
  json j = {{"version", kTrainStateVersion},
            {"step", st.step},
            {"data_position", st.data_position},
            {"rng", {{"seed", st.rng_seed}, {"offset", st.rng_offset}}},
            {"optimizer", {{"type", st.optimizer_type}, {"lr", st.lr}}},
            {"ema", st.has_ema ? json{{"updates", st.ema_updates}} : json(nullptr)}};
  Metadata meta = st.extra;
  for (const char* k : {kFormatKey, kStateKey})
    DIFFLAB_CHECK(!meta.count(k), "save_train_state: metadata key '", k,
                  "' is reserved for the train state (writing '", path, "')");
  meta[kFormatKey] = kFormat;
  meta[kStateKey] = j.dump();  // doubles are written so that they read back bit-exact
  save_safetensors(path, tensors, meta);
}

TrainState load_train_state(const std::string& path) {
  SafeTensors file = load_safetensors(path);
  const std::string pre = "load_train_state: '" + path + "'";
  auto fmt = file.metadata.find(kFormatKey);
  DIFFLAB_CHECK(fmt != file.metadata.end() && fmt->second == kFormat, pre,
                " is not a difflab train state (metadata 'format' is ",
                fmt == file.metadata.end() ? std::string("missing") : "'" + fmt->second + "'", ")");
  auto js = file.metadata.find(kStateKey);
  DIFFLAB_CHECK(js != file.metadata.end(), pre, ": metadata 'train_state' is missing");
  TrainState st;
  try {
    json j = json::parse(js->second);
    const int version = j.at("version").get<int>();
    DIFFLAB_CHECK(version == kTrainStateVersion, pre, ": version ", version,
                  " is not supported (this build reads version ", kTrainStateVersion, ")");
    st.step = j.at("step").get<int64_t>();
    st.data_position = j.at("data_position").get<int64_t>();
    st.rng_seed = j.at("rng").at("seed").get<uint64_t>();
    st.rng_offset = j.at("rng").at("offset").get<uint64_t>();
    st.optimizer_type = j.at("optimizer").at("type").get<std::string>();
    st.lr = j.at("optimizer").at("lr").get<double>();
    const json& e = j.at("ema");
    st.has_ema = !e.is_null();
    if (st.has_ema) st.ema_updates = e.at("updates").get<int64_t>();
  } catch (const json::exception& e) {
    DIFFLAB_FAIL(pre, ": metadata 'train_state' is malformed: ", e.what());
  }
  for (auto& [k, t] : file.tensors) {
    auto strip = [&](const std::string& prefix, StateDict& dst) {
      if (k.compare(0, prefix.size(), prefix) != 0) return false;
      dst[k.substr(prefix.size())] = t;
      return true;
    };
    DIFFLAB_CHECK(
        strip("model.", st.model) || strip("optimizer.", st.optimizer) || strip("ema.", st.ema),
        pre, ": tensor '", k, "' belongs to none of model., optimizer., ema.");
  }
  DIFFLAB_CHECK(st.has_ema || st.ema.empty(), pre, ": has EMA tensors but no EMA entry");
  for (auto& [k, v] : file.metadata)
    if (k != kFormatKey && k != kStateKey) st.extra[k] = v;
  return st;
}

}  // namespace difflab::nn
