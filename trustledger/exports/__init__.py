"""What leaves the platform for the public: open data files (CSV, JSON Lines, Parquet,
FollowTheMoney entities) and the enterprise's verifiable credit report (PDF).

Only published organisation facts: nothing about a person is ever written here.
"""
