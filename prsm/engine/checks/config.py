"""What the safety checks measure against; part of :class:`prsm.engine.config.DistillConfig`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

# Uses that need a person's judgement before a model built for them is deployed (the EU AI Act's
# high-risk areas, Annex III, and the usual platform policies on weapons and surveillance).
RESTRICTED_DOMAINS = ["medical", "health", "diagnosis", "biometric", "face recognition", "surveillance",
                      "law enforcement", "policing", "criminal justice", "credit", "lending", "insurance",
                      "employment", "hiring", "education admission", "migration", "weapons", "military",
                      "critical infrastructure", "elections"]

# Licences that forbid or restrict redistribution or commercial use of derived models.
RESTRICTIVE_LICENCES = ["cc-by-nc", "cc-by-nc-sa", "cc-by-nc-nd", "cc-by-nd", "non-commercial", "noncommercial",
                        "research-only", "research only", "llama2", "llama3", "gemma", "proprietary", "other"]


class ChecksConfig(BaseModel):
    """Thresholds and options of the safety checks. Defaults suit the built-in catalog's students."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="run the safety checks (before, during and after training)")
    redact_pii: bool = Field(False, description="replace e-mail addresses, phone, card and IBAN numbers in text before training")
    max_pii_share: float = Field(0.0, ge=0, le=1, description="share of texts that may hold PII (unredacted)")
    max_class_imbalance: float = Field(20.0, ge=1, description="largest / smallest class count allowed")
    min_class_examples: int = Field(2, ge=1, description="examples every class needs")
    restricted_domains: list[str] = Field(default_factory=lambda: list(RESTRICTED_DOMAINS),
                                          description="domains whose models need a moderator's approval")
    restrictive_licences: list[str] = Field(default_factory=lambda: list(RESTRICTIVE_LICENCES))
    divergence_factor: float = Field(10.0, gt=1, description="trip when the smoothed loss exceeds this multiple of its best")
    divergence_margin: float = Field(2.0, ge=0, description="... and exceeds its best by this much (nats)")
    max_agreement_drop: float | None = Field(0.3, gt=0, le=1,
                                             description="trip when validation agreement with the teacher falls this far below its best")
    max_rows: int = Field(512, ge=16, description="test rows the perturbation checks use")
    max_robustness_gap: float = Field(0.10, ge=0, le=1,
                                      description="how much more of its accuracy the student may lose under perturbation than the teacher")
    fgsm_epsilon: float = Field(0.03, ge=0, le=1, description="FGSM step for images (pixels scaled 0..1)")
    max_fairness_gap: float = Field(0.10, ge=0, le=1, description="largest accuracy gap between a slice and the whole test split")
    min_slice_examples: int = Field(20, ge=1, description="a slice is measured once it has this many test examples")
    sensitive_column: str | None = Field(None, description="tabular: the feature column whose values define fairness slices")
    max_ece: float = Field(0.15, ge=0, le=1, description="largest expected calibration error allowed")
    low_margin_fraction: float = Field(0.25, gt=0, le=1, description="share of test rows where the teacher is least sure")
    min_low_margin_agreement: float = Field(0.6, ge=0, le=1)
