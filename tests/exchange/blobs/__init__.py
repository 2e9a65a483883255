"""Tests of the blob store: one contract for every backend, the S3 start-up check, the cleaning duty."""
