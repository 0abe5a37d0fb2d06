// runtime: light-curve tables (docs/data.md, "Light curves") into the layout of
// stdlib/astro/supernova.net and `starc simulate supernova`: [N, epochs, 1 + 2 * bands + 4]
// rows of (days since the first epoch / 100, one flux per band, one error per band, RA,
// Dec, E(B-V), host photo-z), epochs past the last zero.
//
// A table (CSV, or a FITS binary table) has one row per observation: `mjd`, `band`,
// `flux`, `flux_err`, and optionally an object id (`object_id`, `objid`, `snid`) — then
// one table holds many objects — and per-object `ra`, `dec`, `mwebv`, `hostgal_photoz`.
// Per-band alignment: observations within `night_days` of an epoch's first one form that
// epoch; several of one band in an epoch are averaged by inverse variance; a band missing
// from an epoch is interpolated linearly in time between the band's neighbouring epochs
// (error: the larger of theirs), or held at the nearest one before its first / after its
// last observation. Throws std::runtime_error naming the file (and line or row).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "compiler/ir/tensor.h"

namespace starc {

struct LightCurveLayout {
  std::vector<std::string> bands = {"g", "r", "i", "z"};
  int64_t epochs = 40;
  double night_days = 0.5;
  double time_scale = 100;  // the model's time feature: days / time_scale
};

struct LightCurveObject {
  std::string file, id;
  int64_t observations = 0, epochs = 0, dropped_epochs = 0, interpolated = 0, held = 0, other_bands = 0;
  std::vector<std::string> missing_meta;  // metadata columns absent: written as 0
};

struct LightCurves {
  Tensor lc;  // f32[N, epochs, 1 + 2 * bands + 4]
  std::vector<LightCurveObject> objects;
};

// The objects of `files` in order: a file's objects in order of first appearance.
LightCurves read_light_curves(const std::vector<std::string>& files, const LightCurveLayout& layout);

}  // namespace starc
