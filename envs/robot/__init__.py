"""Robot control envs on PyBullet: a Franka Panda reaching and pushing, under scenarios.

``envs.robot.sim`` (one PyBullet client per env) ← ``robot`` (the arm) and ``tasks``
(reach, push) composed by ``env.RobotEnv``; ``scenarios`` holds the scenario spaces and
``expert`` the scripted IK experts. Nothing here imports PyBullet until a module is used.
"""
