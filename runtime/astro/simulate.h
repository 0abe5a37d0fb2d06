// runtime: seeded, physically motivated data simulators, one per astronomy task of the
// standard library (docs/simulators.md has the physics). Each task makes the tensors
// whose names are the model input / train-target names of the data contract, so that
// `starc train M.net --data NAME=DIR/NAME.npy` reads them directly.
//
// Sample i of a task is drawn from its own random stream, a function of (seed, task, i)
// only: the same seed gives the same bytes, and the first n samples do not depend on N.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "compiler/ir/tensor.h"

namespace starc {

enum class SimOptionKind { Positive, PositiveInt, Fraction, Number, Choice };

struct SimOptionSpec {
  std::string name;           // without the leading "--": "snr", "z-min"
  std::string default_value;  // "" when the default depends on another option (said in help)
  SimOptionKind kind = SimOptionKind::Positive;
  std::string help;
  std::vector<std::string> choices;  // for Choice
};

struct SimFileSpec {
  std::string name;   // DIR/<name>.npy
  std::string shape;  // as written: "f32[N,1,4618]"
  std::string help;
};

struct SimTaskSpec {
  std::string name, summary;
  std::vector<SimFileSpec> files;
  std::vector<SimOptionSpec> options;
};

// Every task, in the order of the data contract.
const std::vector<SimTaskSpec>& simulation_tasks();
// nullptr when there is no task of that name.
const SimTaskSpec* find_simulation_task(std::string_view name);

// Option values by name (no "--"); options not given take their defaults.
using SimOptions = std::map<std::string, std::string>;

// The tensors of `n` samples of `task`, by file name. Throws std::invalid_argument with a
// one-line message for an unknown task or option, n <= 0, or an option value out of range.
std::map<std::string, Tensor> simulate(const std::string& task, int64_t n, uint64_t seed, const SimOptions& options);

// simulate(), then each tensor written to `dir`/<name>.npy (the folder is created).
// Returns the paths written and their types, in the task's file order. Throws
// std::runtime_error naming the folder when it cannot be created or written.
std::vector<std::pair<std::string, TensorType>> simulate_to_dir(const std::string& task, int64_t n, uint64_t seed,
                                                                const SimOptions& options, const std::string& dir);

// The spectra task written in a survey's own file layout (docs/simulators.md, "Survey
// file formats"): format "sdss" writes one spec-PLATE-MJD-FIBER.fits per object (SDSS
// DR17 BOSS spec files: COADD and SPALL HDUs), "desi" writes coadd-main-dark-HPX.fits
// files of up to 100 objects (B/R/Z arm image HDUs, FIBERMAP) each with its
// redrock-main-dark-HPX.fits (REDSHIFTS: the truth). The objects are those of the .npy
// files of the same seed and options. Returns the paths written, in object order. Throws
// std::invalid_argument for a bad task, format or option, std::runtime_error for a folder
// or file that cannot be written.
std::vector<std::string> simulate_survey_files(const std::string& task, const std::string& format, int64_t n,
                                               uint64_t seed, const SimOptions& options, const std::string& dir);

}  // namespace starc
