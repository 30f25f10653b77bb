// Write per-taxpayer scores of a run (the run's old scores were deleted by run_replace).
UNWIND range(0, size($tax_id) - 1) AS n
CREATE (:Score {run_id: $run_id, tax_id: $tax_id[n], score: $score[n], tier: $tier[n],
                reasons: $reasons[n], features: $features[n]})
