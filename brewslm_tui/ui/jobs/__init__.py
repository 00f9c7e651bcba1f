"""Jobs: the sidebar that follows every job, the new-job form and a job's detail."""
