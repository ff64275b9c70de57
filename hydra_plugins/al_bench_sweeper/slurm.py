"""``hydra/launcher=slurm``: hydra-submitit-launcher's SLURM launcher, except that a sweep waits
for every job before it returns.

The launcher it extends asks each job for its result in turn and raises at the first job that
ended without one (cancelled, timed out past ``max_num_timeout``, out of memory), while the
other jobs of the array may still be queued or running: aggregation would then list them as
unfinished, and an immediate resubmission would find their run folders locked. Here the jobs
that map_array submitted are kept; when the parent raises, every job is waited for, and each
lost one comes back as a failed result that the al_bench sweeper reports after aggregating.
"""

from __future__ import annotations

import logging
from typing import Any, List, Sequence

from hydra.core.utils import JobReturn, JobStatus

from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher

log = logging.getLogger("al_bench")


class AlBenchSlurmLauncher(SlurmLauncher):
    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        import submitit

        submitted: List[Any] = []
        map_array = submitit.AutoExecutor.map_array

        def keep(executor: Any, *args: Any, **kwargs: Any) -> Any:
            jobs = map_array(executor, *args, **kwargs)
            submitted.extend(jobs)
            return jobs

        submitit.AutoExecutor.map_array = keep  # type: ignore[method-assign]
        try:
            return super().launch(job_overrides, initial_job_idx)
        except Exception as exc:  # noqa: BLE001 - a job without a result; the others may still run
            if not submitted:
                raise
            log.warning("sweep: a job ended without a result (%s); waiting for the other %d job(s)",
                        type(exc).__name__, len(submitted) - 1)
            return [_result(job, overrides) for job, overrides in zip(submitted, job_overrides)]
        finally:
            submitit.AutoExecutor.map_array = map_array  # type: ignore[method-assign]


def _result(job: Any, overrides: Sequence[str]) -> JobReturn:
    """The job's JobReturn once it has ended; a failed one carrying the error if it has none."""
    try:
        return job.results()[0]
    except Exception as exc:  # noqa: BLE001 - submitit's UncompletedJobError and the job's own errors
        ret = JobReturn(overrides=list(overrides), status=JobStatus.FAILED)
        ret._return_value = exc
        return ret
