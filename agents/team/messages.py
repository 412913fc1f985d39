"""The messages agents exchange. A plan is a list of AgentMessage steps (a graph: data to show and test), and each
step's output is a typed model, validated where the agent makes it and read by attribute everywhere else. Outputs
are stored as JSON with their step and read back through the same model (`output_model`), so a resumed task sees
exactly what the first run saw."""

import hashlib
import re
from dataclasses import asdict, field
from dataclasses import dataclass as std_dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.dataclasses import dataclass

from agents.team.kinds import AgentType


@dataclass
class AgentMessage:
    key: str  # the step's name in the plan ("world", "write", "write-retry-1", ...)
    agent: AgentType  # the agent that acts on it
    task_type: str  # what the agent is asked to do ("retrieve_world", "write", "check", ...)
    payload: dict[str, Any] = field(default_factory=dict)  # inputs for this step
    context: dict[str, Any] = field(default_factory=dict)  # earlier steps' outputs, by key, filled in at run time
    priority: int = 0  # among ready steps, higher runs first
    dependencies: list[str] = field(default_factory=list)  # keys that must succeed first
    reason: str = ""  # why the director planned this step

    def as_dict(self) -> dict:
        data = asdict(self)
        data.pop("context")
        data["agent"] = str(self.agent)
        return data


class Output(BaseModel):
    """What one step produced."""

    model_config = ConfigDict(extra="forbid")

    def stored(self) -> dict:
        return self.model_dump(mode="json")


# -- world building ------------------------------------------------------------------------------------------------


class WorldNote(BaseModel):
    id: int
    name: str
    kind: str
    description: str = ""


class WorldContext(Output):
    entries: list[WorldNote] = []
    why: str = ""
    missing: list[str] = []  # names the request mentions that the world and the cast do not know yet


class WorldProposal(BaseModel):
    name: str
    kind: str  # a world entry's kind (location, item, faction, event, lore), or "character" for the cast
    mentions: int = 1
    excerpt: str = ""  # where the draft first mentions it
    description: str = ""  # drafted from the draft, by the model or from its own sentences
    drafted_by: str = ""  # the model that drafted it; empty when it is the draft's own sentences


class WorldProposals(Output):
    proposals: list[WorldProposal] = []


# -- continuation context -----------------------------------------------------------------------------------------


class Section(BaseModel):
    title: str
    text: str = ""
    why: str = ""
    tokens: int = 0


class LeftOut(BaseModel):
    title: str
    tokens: int
    why: str


class StoryContext(Output):
    sections: list[Section] = []
    left_out: list[LeftOut] = []
    budget: int | None = None
    used: int = 0
    query: str = ""


# -- narrative writer ---------------------------------------------------------------------------------------------


class Draft(Output):
    text: str = ""
    words: int = 0
    trimmed: list[str] = []  # what was cut from the prompt to fit the model's window
    cancelled: bool = False
    endpoint: str = ""


# -- quality assurance ----------------------------------------------------------------------------------------------

Severity = Literal["info", "warn", "fail"]


class Earlier(BaseModel):
    """The earlier statement a finding cites."""

    text: str
    source: str
    chapter: int | None = None
    character: int | None = None  # a character's profile


class Finding(BaseModel):
    check: str  # length, repetition, grammar, character_consistency, plot_hole, genre, consistency
    severity: Severity
    message: str
    evidence: str = ""
    offset: int | None = None  # where the evidence starts in the checked text (code points)
    length: int | None = None  # how long the passage to select is; the evidence's length when not given
    earlier: Earlier | None = None
    similarity: float | None = None
    fingerprint: str = ""  # stable across rewrites, so the writer can ignore it for the story
    same_as: list[str] = []  # fingerprints of other checks' findings on this passage, dismissed along with it
    ignored: bool = False


def fingerprint(*parts: str) -> str:
    """Stable across rewrites: the same contradiction with the same earlier fact is the same finding."""
    normal = "|".join(re.sub(r"\W+", " ", p.lower()).strip() for p in parts)
    return hashlib.sha1(normal.encode()).hexdigest()[:16]


class CheckRun(BaseModel):
    """One kind of check and how it went, so the report can say plainly what was and was not checked."""

    name: str
    ran: bool = True
    detail: str = ""
    note: str = ""  # what the writer should know about it (a weak model, a server that did not answer)


STORED_FINDINGS = 300
STORED_MATCHES = 200


class QualityReport(Output):
    verdict: Literal["pass", "warn", "fail"] = "pass"
    findings: list[Finding] = []
    checks: list[CheckRun] = []
    scope: str = ""  # what was checked: "the whole chapter", "the selection"
    signals: dict[str, Any] = {}
    consistency: dict[str, Any] = {}
    genre: dict[str, Any] = {}
    grammar: dict[str, Any] = {}
    findings_total: int = 0  # how many findings there were when more than a task keeps (stored)

    @classmethod
    def judge(cls, findings: list[Finding], **reports) -> "QualityReport":
        """The report with its verdict: fail if any finding fails, warn if any warns, else pass."""
        severities = {f.severity for f in findings}
        verdict = "fail" if "fail" in severities else "warn" if "warn" in severities else "pass"
        return cls(verdict=verdict, findings=findings, **reports)

    def stored(self) -> dict:
        """The report as a task keeps it, bounded whatever the text: at most STORED_FINDINGS findings and
        STORED_MATCHES grammar suggestions, with how many there were (a 500,000-character chapter can have
        hundreds of thousands of suggestions; a report that size slowed every request that read the task)."""
        data = super().stored()
        if len(data["findings"]) > STORED_FINDINGS:
            data["findings_total"] = len(data["findings"])
            data["findings"] = data["findings"][:STORED_FINDINGS]
        matches = data["grammar"].get("matches")
        if isinstance(matches, list) and len(matches) > STORED_MATCHES:
            data["grammar"] = {**data["grammar"], "matches": matches[:STORED_MATCHES], "matches_total": len(matches)}
        return data

    def problems(self) -> list[str]:
        """What the writer (or a rewrite) should fix."""
        return [f.message for f in self.findings if f.severity in ("fail", "warn")]


# -- visual storytelling and the director ------------------------------------------------------------------------


class Illustration(Output):
    """A picture made for the writer to accept: a portrait or a scene (stored as a pictures.Picture)."""

    picture_id: str = ""
    prompt: str = ""
    characters: list[str] = []  # who is in it
    cancelled: bool = False


class GateDecision(Output):
    action: Literal["accept", "retry"]
    reason: str
    feedback: list[str] = []
    draft: str = ""  # the draft the decision is about
    verdict: str = ""


class Intent(Output):
    """What the director read in the writer's note: the length, who it is about, what to look up, whether the
    world and the checks matter. Validated against the story (lengths bounded, names from the cast)."""

    target_words: int | None = Field(None, ge=50, le=20000)
    characters: list[str] = Field([], max_length=12)
    retrieve: str = Field("", max_length=300)
    world: bool = True
    check: bool = True
    reason: str = Field("", max_length=500)


class Plan(Output):
    steps: list[dict[str, Any]]
    intent: Intent | None = None  # None: the usual plan for the mode (no note, or the note could not be read)
    limits: str = ""  # what the model's profile leaves out, in one line for the task panel ("" for a capable model)


# -- what a finished task reports -----------------------------------------------------------------------------------


class ContextReport(BaseModel):
    """What the writer's draft was written from: the context sections used and left out, the world, and what was
    trimmed; plus the new places and things the draft introduced."""

    sections: list[Section] = []
    left_out: list[LeftOut] = []
    budget: int | None = None
    used: int | None = None
    world: str = ""
    world_proposals: list[WorldProposal] = []
    trimmed: list[str] = []


@std_dataclass
class StepResult:
    """An agent's answer to the pipeline: its output and what the model call cost."""

    output: Output
    model: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0


def ready(plan: list[AgentMessage], done: set[str], started: set[str]) -> list[AgentMessage]:
    """Steps whose dependencies have all succeeded and that have not started, highest priority first."""
    waiting = [m for m in plan if m.key not in done and m.key not in started]
    return sorted((m for m in waiting if set(m.dependencies) <= done), key=lambda m: -m.priority)
