// Running a study: points on a thread pool (and over MPI ranks), each finished point written at once as its own
// file, results.h5 and summary.json assembled from those files in point order.
//
// Output folder DIR:
//   study.json         the study's identity: name, fingerprint, evaluator, number of points, resolved study text
//   .v3sim.lock        the lock (flock) of the run writing DIR: a second run on DIR (two --resume) refuses, exit 2
//   points/NNNNN.json  one finished point (identity, fingerprints, status, metrics, and the sha256 of all that),
//                      written to a temporary name and renamed, so a killed study loses only the points in flight; on
//                      --resume a point whose sha256 does not match (an edited metric) is computed again, with a
//                      warning naming the file (its metrics cannot be trusted, and the point can be recomputed)
//   tables/NAME.json   an extra table (computed once; kept for --resume)
//   results.h5         report/h5_study.h
//   summary.json       /points and /metrics of results.h5 as JSON, for tools without HDF5
// The datasets of results.h5 are the same bit for bit whatever the number of threads or ranks, and after a resume.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "report/h5_study.h"
#include "study/comm.h"
#include "study/spec.h"

namespace v3sim::study {

struct StudyRunOptions {
  std::string out_dir;
  int threads = 1;
  bool resume = false;   // skip the points DIR already holds (they must belong to this study)
  FILE* log = nullptr;   // progress; nullptr: none
  bool log_tty = false;  // a progress bar redrawn in place, else one line per point
  // How errors name the output folder and the resume switch (the command line: "-o" and "--resume").
  std::string out_dir_name = "the output folder";
  std::string resume_name = "resume";
};

struct StudyRunSummary {
  int64_t points = 0;
  int64_t resumed = 0;     // found in DIR
  int64_t ran = 0;         // evaluated by this run (all ranks)
  int64_t failed = 0;      // points that did not run: status neither "ok" nor "infeasible: ..." (resumed included)
  int64_t infeasible = 0;  // points that ran but whose peak memory exceeds the capacity
  std::string results_path;
  std::string summary_path;
  std::string fingerprint;
  double wall_s = 0;
};

// The study's fingerprint: its resolved text, the evaluator's name, v3sim's version and git revision, and every
// point's fingerprint (so a resume refuses points computed from another version of any config file the study reads,
// or by another build of v3sim).
std::string study_fingerprint(const StudySpec& spec, const std::vector<StudyPoint>& points,
                              const PointEvaluator& evaluator);

// Runs the study (validate_study() first). Every rank calls it; only the root touches DIR. Throws ConfigError before
// any point runs when DIR already holds results and !resume ("use --resume or another -o"), when a resume finds
// points or a results.h5 of another study, or when DIR/results.h5 is corrupt or foreign (never overwritten); an
// evaluator's ConfigError is recorded as the point's status; other exceptions stop the study (finished points stay).
// The returned summary is complete on the root only.
StudyRunSummary run_study(const StudySpec& spec, const std::vector<StudyPoint>& points, const PointEvaluator& evaluator,
                          const StudyRunOptions& options, StudyComm& comm);

// Assembles the results of a folder whose points are all present (what run_study does at the end); the extra tables
// are computed (one line each on `log`, when given) unless DIR/tables holds them for this study.
report::StudyResults assemble_study_results(const StudySpec& spec, const std::vector<StudyPoint>& points,
                                            const PointEvaluator& evaluator, const std::string& out_dir,
                                            FILE* log = nullptr);

// One point's file name in DIR/points ("00042.json").
std::string point_file_name(int64_t index);

}  // namespace v3sim::study
