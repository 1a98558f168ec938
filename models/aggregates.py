"""Aggregate tables (rebuilt by jobs, never edited) and the bookkeeping of scheduled jobs.

The ``agg_*`` tables are derived data: ``app.pilotage.aggregates.rebuild`` empties and refills them in
one transaction, so a reader sees either the previous build or the new one, never a mix.
"""
from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlalchemy import Boolean, Date, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from flask_appbuilder import Model

from .base import utcnow


class _Sums:
    """Additive figures shared by the per-year and per-territory aggregates."""

    places: Mapped[Optional[int]] = mapped_column(Integer)
    places_adresses: Mapped[Optional[int]] = mapped_column(Integer)
    etp: Mapped[Optional[float]] = mapped_column(Float)
    dotation_accordee: Mapped[Optional[float]] = mapped_column(Float)
    act_mois: Mapped[Optional[int]] = mapped_column(Integer)
    act_autorisees: Mapped[Optional[int]] = mapped_column(Integer)
    act_occupees: Mapped[Optional[int]] = mapped_column(Integer)
    act_disponibles: Mapped[Optional[int]] = mapped_column(Integer)
    act_vacantes: Mapped[Optional[int]] = mapped_column(Integer)
    act_indisponibles: Mapped[Optional[int]] = mapped_column(Integer)
    act_bpi: Mapped[Optional[int]] = mapped_column(Integer)
    act_deboutes: Mapped[Optional[int]] = mapped_column(Integer)


class AggStructureAnnee(_Sums, Model):
    """One structure in one year: places, budget, computed ratios and the year's activity sums."""

    __tablename__ = "agg_structure_annee"
    __table_args__ = (Index("ix_agg_sa_annee_type", "annee", "type"),)

    structure_id: Mapped[int] = mapped_column(ForeignKey("structure.id", ondelete="CASCADE"),
                                              primary_key=True)
    annee: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(10), nullable=False)
    departement_id: Mapped[int] = mapped_column(Integer, nullable=False, index=True)
    operateur_id: Mapped[Optional[int]] = mapped_column(Integer, index=True)
    cout_journalier: Mapped[Optional[float]] = mapped_column(Float)
    taux_encadrement: Mapped[Optional[float]] = mapped_column(Float)


class AggStructure(Model):
    """The current state of one structure: latest places, 12-month activity, budget, alerts."""

    __tablename__ = "agg_structure"

    structure_id: Mapped[int] = mapped_column(ForeignKey("structure.id", ondelete="CASCADE"),
                                              primary_key=True)
    type: Mapped[str] = mapped_column(String(10), nullable=False, index=True)
    departement_id: Mapped[int] = mapped_column(Integer, nullable=False, index=True)
    region_id: Mapped[int] = mapped_column(Integer, nullable=False, index=True)
    operateur_id: Mapped[Optional[int]] = mapped_column(Integer, index=True)
    annee_places: Mapped[Optional[int]] = mapped_column(Integer)
    places: Mapped[Optional[int]] = mapped_column(Integer)
    places_adresses: Mapped[Optional[int]] = mapped_column(Integer)
    ecart: Mapped[Optional[int]] = mapped_column(Integer)
    ecart_ratio: Mapped[Optional[float]] = mapped_column(Float)
    # Activity of the 12 months before the current one (sums, then ratios)
    act_mois: Mapped[Optional[int]] = mapped_column(Integer)
    act_autorisees: Mapped[Optional[int]] = mapped_column(Integer)
    act_occupees: Mapped[Optional[int]] = mapped_column(Integer)
    act_disponibles: Mapped[Optional[int]] = mapped_column(Integer)
    act_vacantes: Mapped[Optional[int]] = mapped_column(Integer)
    act_indisponibles: Mapped[Optional[int]] = mapped_column(Integer)
    act_bpi: Mapped[Optional[int]] = mapped_column(Integer)
    act_deboutes: Mapped[Optional[int]] = mapped_column(Integer)
    taux_occupation: Mapped[Optional[float]] = mapped_column(Float)
    taux_vacance: Mapped[Optional[float]] = mapped_column(Float)
    taux_indisponibles: Mapped[Optional[float]] = mapped_column(Float)
    taux_bpi: Mapped[Optional[float]] = mapped_column(Float)
    taux_deboutes: Mapped[Optional[float]] = mapped_column(Float)
    taux_indues: Mapped[Optional[float]] = mapped_column(Float)
    # Budget of the current year (or the latest before it)
    annee_budget: Mapped[Optional[int]] = mapped_column(Integer)
    etp: Mapped[Optional[float]] = mapped_column(Float)
    dotation_accordee: Mapped[Optional[float]] = mapped_column(Float)
    cout_journalier: Mapped[Optional[float]] = mapped_column(Float)
    taux_encadrement: Mapped[Optional[float]] = mapped_column(Float)
    cout_journalier_saisi: Mapped[Optional[float]] = mapped_column(Float)
    taux_encadrement_saisi: Mapped[Optional[float]] = mapped_column(Float)
    budget_n1_manquant: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # Alerts (thresholds per type from the configuration)
    alerte_ecart: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    alerte_occupation: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    alerte_bpi: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    alerte_deboutes: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    alerte_indues: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    alerte_vacantes: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    alerte_indisponibles: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    alerte_cout: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    alerte_encadrement: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)


class AggATraiter(Model):
    """One line of « À traiter »: a structure in one rubrique (an autorisation or convention
    ending, an alert, a fiche to complete, documents owed), with its territory for the scope
    and the date or reference the line shows. Rebuilt with the other aggregates, so the page
    reads a page of lines and a count per rubrique, whatever the size of the park."""

    __tablename__ = "agg_a_traiter"
    __table_args__ = (
        Index("ix_agg_a_traiter_order", "rubrique", "echeance", "code_dna"),
        Index("ix_agg_a_traiter_dep", "rubrique", "departement_id"),
        Index("ix_agg_a_traiter_op", "rubrique", "operateur_id"),
    )

    rubrique: Mapped[str] = mapped_column(String(20), primary_key=True)
    structure_id: Mapped[int] = mapped_column(ForeignKey("structure.id", ondelete="CASCADE"),
                                              primary_key=True)
    code_dna: Mapped[str] = mapped_column(String(10), nullable=False)
    departement_id: Mapped[int] = mapped_column(Integer, nullable=False)
    region_id: Mapped[int] = mapped_column(Integer, nullable=False)
    operateur_id: Mapped[Optional[int]] = mapped_column(Integer)
    echeance: Mapped[Optional[dt.date]] = mapped_column(Date)
    reference: Mapped[Optional[str]] = mapped_column(String(100))


class AggCarte(Model):
    """The map's clusters, counted once per rebuild: per zoom level (up to
    ``app.pilotage.carte_grid.GRID_MAX_ZOOM``) and cell of its grid, the structures of one département
    and one type — a national view then reads a few hundred rows whatever the park's size."""

    __tablename__ = "agg_carte"
    __table_args__ = (Index("ix_agg_carte_cell", "zoom", "gy", "gx"),)

    zoom: Mapped[int] = mapped_column(Integer, primary_key=True)
    gx: Mapped[int] = mapped_column(Integer, primary_key=True)
    gy: Mapped[int] = mapped_column(Integer, primary_key=True)
    departement_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(10), primary_key=True)
    region_id: Mapped[int] = mapped_column(Integer, nullable=False)
    n: Mapped[int] = mapped_column(Integer, nullable=False)
    min_id: Mapped[int] = mapped_column(Integer, nullable=False)
    sum_lat: Mapped[float] = mapped_column(Float, nullable=False)
    sum_lng: Mapped[float] = mapped_column(Float, nullable=False)
    min_lat: Mapped[float] = mapped_column(Float, nullable=False)
    min_lng: Mapped[float] = mapped_column(Float, nullable=False)
    max_lat: Mapped[float] = mapped_column(Float, nullable=False)
    max_lng: Mapped[float] = mapped_column(Float, nullable=False)


class AggOperateur(Model):
    """One opérateur today: its structures, places, dotation and weighted ratios."""

    __tablename__ = "agg_operateur"

    operateur_id: Mapped[int] = mapped_column(ForeignKey("operateur.id", ondelete="CASCADE"),
                                              primary_key=True)
    structures: Mapped[int] = mapped_column(Integer, nullable=False)
    places: Mapped[Optional[int]] = mapped_column(Integer)
    places_adresses: Mapped[Optional[int]] = mapped_column(Integer)
    etp: Mapped[Optional[float]] = mapped_column(Float)
    dotation_accordee: Mapped[Optional[float]] = mapped_column(Float)
    cout_journalier: Mapped[Optional[float]] = mapped_column(Float)
    taux_encadrement: Mapped[Optional[float]] = mapped_column(Float)
    taux_occupation: Mapped[Optional[float]] = mapped_column(Float)
    taux_indues: Mapped[Optional[float]] = mapped_column(Float)
    structures_en_alerte: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class AggTerritoire(_Sums, Model):
    """A territory (département, région or national) × year × type (``TOUS`` = all types)."""

    __tablename__ = "agg_territoire"

    niveau: Mapped[str] = mapped_column(String(12), primary_key=True)
    code: Mapped[str] = mapped_column(String(3), primary_key=True)
    annee: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(10), primary_key=True)
    structures: Mapped[int] = mapped_column(Integer, nullable=False)
    cout_n: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    cout_q1: Mapped[Optional[float]] = mapped_column(Float)
    cout_median: Mapped[Optional[float]] = mapped_column(Float)
    cout_q3: Mapped[Optional[float]] = mapped_column(Float)
    encadrement_median: Mapped[Optional[float]] = mapped_column(Float)


class JobRun(Model):
    """One run of a scheduled job: when, how long, how many rows, and how it ended."""

    __tablename__ = "job_run"
    __table_args__ = (Index("ix_job_run_job_slot", "job", "slot"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(40), nullable=False)
    slot: Mapped[Optional[str]] = mapped_column(String(40))
    declencheur: Mapped[str] = mapped_column(String(20), nullable=False)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow,
                                                    index=True)
    ended_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    duration_ms: Mapped[Optional[int]] = mapped_column(Integer)
    rows: Mapped[Optional[int]] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), nullable=False)
    error: Mapped[Optional[str]] = mapped_column(Text)
    host: Mapped[Optional[str]] = mapped_column(String(100))


class JobLock(Model):
    """A job's lock (SQLite; PostgreSQL uses an advisory lock) or a pending rebuild request."""

    __tablename__ = "job_lock"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[Optional[str]] = mapped_column(String(100))
    acquired_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    expires_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    first_requested_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    requested_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
