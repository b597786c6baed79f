DROP TABLE rfm_runs;
DROP TABLE rfm_scores;
