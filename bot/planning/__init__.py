"""Planning: dependency and conflict graphs, waves, critical path, merge order. Pure."""

from bot.planning.graphs import PlanError, dependency_graph, find_conflicts
from bot.planning.plan import plan_tasks
from bot.planning.schedule import build_plan

__all__ = ["PlanError", "build_plan", "dependency_graph", "find_conflicts", "plan_tasks"]
