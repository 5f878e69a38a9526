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

// What a field holds, for an error message: numbers as written, anything else by type (a dump
// of a deeply nested value would recurse once per level).
std::string describe(const json& v) {
  return v.is_number() ? v.dump() : std::string("a JSON ") + v.type_name();
}

// An integer field within [lo, hi]. nlohmann's get<int64_t>() converts a float (1e300) with
// undefined behaviour and wraps a large unsigned, so both are refused here.
int64_t get_int(const json& j, const char* field, int64_t lo, int64_t hi) {
  const json& v = j.at(field);
  const bool ok = v.is_number_unsigned()  ? v.get<uint64_t>() <= uint64_t(hi)
                  : v.is_number_integer() ? v.get<int64_t>() >= lo && v.get<int64_t>() <= hi
                                          : false;
  DIFFLAB_CHECK(ok, "'", field, "' is not an integer in [", lo, ", ", hi, "]: ", describe(v));
  return v.get<int64_t>();
}

uint64_t get_uint(const json& j, const char* field) {
  const json& v = j.at(field);
  const bool ok = v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0);
  DIFFLAB_CHECK(ok, "'", field, "' is not a non-negative integer: ", describe(v));
  return v.get<uint64_t>();
}

// The scalars of the metadata 'train_state' into `st`; throws json::exception or Error.
void parse_scalars(const std::string& text, TrainState& st) {
  const json j = json::parse(text);
  const int64_t version = get_int(j, "version", INT64_MIN, INT64_MAX);
  DIFFLAB_CHECK(version == kTrainStateVersion, "version ", version,
                " is not supported (this build reads version ", kTrainStateVersion, ")");
  st.step = get_int(j, "step", 0, INT64_MAX);
  st.data_position = get_int(j, "data_position", 0, INT64_MAX);
  st.rng_seed = get_uint(j.at("rng"), "seed");
  st.rng_offset = get_uint(j.at("rng"), "offset");
  st.optimizer_type = j.at("optimizer").at("type").get<std::string>();
  st.lr = j.at("optimizer").at("lr").get<double>();
  const json& e = j.at("ema");
  st.has_ema = !e.is_null();
  if (st.has_ema) st.ema_updates = get_int(e, "updates", 0, INT64_MAX);
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
    parse_scalars(js->second, st);
  } catch (const json::exception& e) {
    DIFFLAB_FAIL(pre, ": metadata 'train_state' is malformed: ", e.what());
  } catch (const Error& e) {
    DIFFLAB_FAIL(pre, ": metadata 'train_state': ", e.what());
  }
  for (const auto& kv : file.tensors) {
    const std::string& k = kv.first;
    const Tensor& t = kv.second;
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
