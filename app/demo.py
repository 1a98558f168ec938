"""A deterministic, plausible national park for demos and benchmarks.

``generate(session, scale)`` writes ~1,000 structures × scale in all 101 départements with
5 years of places and budgets, 24 months of activity, addresses, contacts, quality follow-up,
each structure's conventions (renewed one after the other) and ~40 CPOMs. Names are invented;
figures follow the shapes agents know and spread around the alert thresholds (app/pilotage/seuils.py):
each alert singles out roughly one structure in ten (tests/test_demo.py holds 5–25 %).
Rows go in through bulk inserts with pre-assigned ids: seconds, not minutes.
"""
from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Iterable

import click
from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from models import (ActiviteMensuelle, Adresse, AdresseAnnee, BudgetAnnee, Contact, Controle,
                    Convention, ConventionStructure, Departement, Eig, Evaluation, Operateur,
                    PlacesAnnee, Structure)
from models.enums import (Public, Repartition, StatutConvention, TypeContact, TypeControle,
                          TypeConvention, TypeStructure)

#: Structures per 1,000 by type, and their typical size (min, mode, max places).
TYPE_MIX = {TypeStructure.CADA: (390, (30, 90, 220)), TypeStructure.HUDA: (420, (20, 90, 240)),
            TypeStructure.CPH: (100, (20, 50, 120)), TypeStructure.CAES: (50, (30, 80, 150)),
            TypeStructure.PRAHDA: (40, (60, 100, 180))}
LETTER = {TypeStructure.CADA: "C", TypeStructure.HUDA: "H", TypeStructure.CAES: "K",
          TypeStructure.CPH: "R", TypeStructure.PRAHDA: "P"}
BIG_DEPS = {"75": 4, "93": 4, "69": 3, "13": 3, "59": 3, "33": 2, "31": 2, "67": 2, "44": 2,
            "34": 2, "06": 2, "92": 2, "94": 2, "95": 2, "91": 2, "38": 2, "76": 2, "35": 2}
_ORG = ["Association", "Fondation", "Union", "Fédération", "Collectif", "Maison", "Réseau"]
_THEME = ["Accueil", "Solidarité", "Hospitalité", "Entraide", "Passerelle", "Horizon", "Escale",
          "Relais", "Rivage", "Boussole", "Trait d'Union", "Refuge", "Phare", "Ancrage", "Étape",
          "Main Tendue", "Route Commune", "Toit Partagé", "Nouvel Élan", "Terre d'Asile Locale"]
_SAINT = ["Saint-", "Sainte-", "", "", "", "Le ", "La ", "Les ", "Villers-", "Bourg-"]
_ROOT = ["Aubin", "Clair", "Laurent", "Mesnil", "Val", "Bois", "Pré", "Fontaine", "Moulin",
         "Roche", "Brière", "Chantemerle", "Vaux", "Marsac", "Lormont", "Bellerive", "Orval",
         "Croix", "Montfort", "Beauval", "Serrières", "Ambrun", "Castelnau", "Villeneuve"]
_SUFFIX = ["", "", "", "-sur-Mer", "-les-Bains", "-en-Vallée", "-le-Haut", "-sur-Loire",
           "-la-Forêt", "-du-Lac"]
_STREET = ["rue", "avenue", "boulevard", "allée", "chemin", "impasse", "place", "route"]
_STREET_NAME = ["de la République", "Victor Hugo", "Jean Jaurès", "des Lilas", "du Moulin",
                "Pasteur", "de la Gare", "des Écoles", "du Château", "Émile Zola", "des Peupliers",
                "de Verdun", "Gambetta", "du Stade", "des Tilleuls", "Louise Michel"]
_FIRST = ["Camille", "Nadia", "Julien", "Sophie", "Karim", "Élodie", "Thomas", "Fatou", "Hugo",
          "Léa", "Mehdi", "Claire", "Antoine", "Aïcha", "Nicolas", "Inès"]
_LAST = ["Martin", "Bernard", "Durand", "Moreau", "Laurent", "Lefèvre", "Garnier", "Benali",
         "Diallo", "Rousseau", "Fontaine", "Chevalier", "Nguyen", "Mercier", "Blanc", "Robin"]


def _centroids() -> dict[str, tuple[float, float]]:
    """Rough centre of each département (app/data/departements_centroides.csv)."""
    import csv
    from pathlib import Path

    with open(Path(__file__).parent / "data" / "departements_centroides.csv", encoding="utf-8") as f:
        return {r["code"]: (float(r["latitude"]), float(r["longitude"])) for r in csv.DictReader(f)}


_CENTROIDS: dict[str, tuple[float, float]] = {}


def _coordinates(seed: int, sid: int, dep: str) -> dict:
    """Plausible coordinates near the département's centre, from their own random stream
    (the rest of the park does not change when this function does)."""
    if not _CENTROIDS:
        _CENTROIDS.update(_centroids())
    if dep not in _CENTROIDS:
        return {"latitude": None, "longitude": None}
    lat, lng = _CENTROIDS[dep]
    spread = 0.03 if dep in ("75", "92", "93", "94") else 0.08 if len(dep) == 3 else 0.22
    geo = random.Random(f"geo:{seed}:{sid}")
    return {"latitude": round(lat + geo.uniform(-spread, spread), 5),
            "longitude": round(lng + geo.uniform(-spread, spread) * 1.4, 5)}


def _commune(rng: random.Random) -> str:
    return rng.choice(_SAINT) + rng.choice(_ROOT) + rng.choice(_SUFFIX)


def _postal_prefix(dep: str) -> str:
    if dep in ("2A", "2B"):
        return "20"
    return dep


def _postal(rng: random.Random, dep: str) -> str:
    prefix = _postal_prefix(dep)
    if dep == "2A":
        return f"20{rng.randint(0, 1)}{rng.randint(0, 99):02d}"
    if dep == "2B":
        return f"20{rng.randint(2, 6)}{rng.randint(0, 99):02d}"
    return prefix + f"{rng.randint(0, 10 ** (5 - len(prefix)) - 1):0{5 - len(prefix)}d}"


def _street(rng: random.Random) -> str:
    return f"{rng.randint(1, 180)} {rng.choice(_STREET)} {rng.choice(_STREET_NAME)}"


def _money(value: float) -> Decimal:
    return Decimal(str(round(value, 2)))


class _Ids:
    """Pre-assigned primary keys, so children can point at parents before any insert."""

    def __init__(self, session: Session, models: Iterable[type]):
        self.next = {m: (session.scalar(select(func.max(m.id))) or 0) + 1 for m in models}

    def take(self, model: type) -> int:
        value = self.next[model]
        self.next[model] = value + 1
        return value


def generate(session: Session, scale: int = 1, seed: int = 2026,
             today: dt.date | None = None) -> dict[str, int]:
    """Write the demo park; returns the number of rows written per table."""
    rng = random.Random(seed)
    today = today or dt.date.today()
    year = today.year
    years = list(range(year - 4, year + 1))
    deps = list(session.scalars(select(Departement).order_by(Departement.code)))
    if not deps:
        raise click.ClickException("Référentiel absent : lancez d'abord « flask bhasile init ».")
    all_models = [Operateur, Structure, PlacesAnnee, BudgetAnnee, ActiviteMensuelle, Adresse,
                  AdresseAnnee, Contact, Controle, Evaluation, Eig, Convention, ConventionStructure]
    ids = _Ids(session, all_models)
    rows: dict[type, list[dict]] = {m: [] for m in all_models}

    names = _operateur_names(rng, deps, 250 * scale, 12 * scale)
    operateurs = []
    for name in names:
        oid = ids.take(Operateur)
        rows[Operateur].append({"id": oid, "nom": name, "siret": _siret(rng),
                                "direction_generale": f"{_street(rng)}, {_commune(rng)}",
                                "siege_social": f"{_street(rng)}, {_commune(rng)}"})
        operateurs.append(oid)
    weights = [30 if i < 12 * scale else 1 for i in range(len(operateurs))]

    # Structures spread over every département, heavier in the big ones.
    dep_weights = [BIG_DEPS.get(d.code, 1) for d in deps]
    kinds = [t for t, (n, _) in TYPE_MIX.items() for _ in range(n * scale)]
    rng.shuffle(kinds)
    dep_for = [deps[i % len(deps)] for i in range(len(deps))]  # at least one per département
    dep_for += rng.choices(deps, weights=dep_weights, k=len(kinds) - len(dep_for))
    used: set[str] = set()
    seq: dict[tuple[str, str], int] = {}
    structures = []
    counts = dict.fromkeys((m.__tablename__ for m in all_models), 0)
    for n, (kind, dep) in enumerate(zip(kinds, dep_for)):
        if n and n % STREAM == 0:   # ×30, ×100: written as they come, memory stays flat
            _write(session, rows, counts)
        sid = ids.take(Structure)
        code = _code_dna(rng, LETTER[kind], dep.code, seq, used)
        lo, mode, hi = TYPE_MIX[kind][1]
        places = int(rng.triangular(lo, hi, mode))
        op = rng.choices(operateurs, weights=weights)[0]
        debut_conv = dt.date(rng.randint(year - 5, year - 1), rng.randint(1, 12), 1)
        autorisee = kind.autorisee
        debut_auto = dt.date(rng.randint(2005, year - 1), rng.randint(1, 12), 1) if autorisee else None
        creation = dt.date(rng.randint(1995, year - 2), rng.randint(1, 12), rng.randint(1, 28))
        commune = _commune(rng)
        rows[Structure].append({
            "id": sid, "code_dna": code, "type": kind, "operateur_id": op,
            "nom": f"{kind.value} {commune}", "filiale": None,
            "departement_id": dep.id, "adresse_administrative": _street(rng),
            "code_postal": _postal(rng, dep.code), "commune": commune,
            **_coordinates(seed, sid, dep.code),
            "code_finess": _finess(rng, dep.code) if autorisee else None,
            "public": rng.choices(list(Public), weights=[6, 2, 2])[0],
            "date_creation": creation,
            "date_303": creation + dt.timedelta(days=rng.randint(0, 400)),
            "lgbt": rng.random() < 0.15, "fvv_teh": rng.random() < 0.2,
            "debut_autorisation": debut_auto,
            "fin_autorisation": dt.date(debut_auto.year + 15, debut_auto.month, 1) if debut_auto else None,
            "notes": None,
        })
        structures.append((sid, kind, places, op, dep))
        _structure_conventions(rng, rows, ids, structures[-1], debut_conv, today)
        latest = _places_and_budgets(rng, rows, ids, sid, kind, places, years)
        _activity(rng, rows, ids, sid, latest, today)
        _addresses(rng, rows, ids, sid, dep.code, latest, years)
        _quality(rng, rows, ids, sid, today)
        for ctype in (TypeContact.PRINCIPAL, TypeContact.SECONDAIRE)[: rng.randint(1, 2)]:
            first, last = rng.choice(_FIRST), rng.choice(_LAST)
            rows[Contact].append({"id": ids.take(Contact), "structure_id": sid, "type": ctype,
                                  "prenom": first, "nom": last, "role": "Directeur·rice"
                                  if ctype == TypeContact.PRINCIPAL else "Chef·fe de service",
                                  "email": f"{_ascii(first)}.{_ascii(last)}@exemple.org",
                                  "telephone": f"0{rng.randint(1, 5)}{rng.randint(10 ** 7, 10 ** 8 - 1)}"})
    _conventions(rng, rows, ids, structures, scale, year)
    _write(session, rows, counts)
    _advance_sequences(session, all_models)
    return counts


#: Structures generated between two writes: the rows of a few thousand structures in memory,
#: never the whole park (×100 is 100,000 structures and ~5 million rows).
STREAM = 2000


def _write(session: Session, rows: dict[type, list[dict]], counts: dict[str, int]) -> None:
    """Insert the rows generated so far, parents first (the order of ``rows``), and forget them."""
    for model, batch in rows.items():
        for start in range(0, len(batch), 5000):   # Core executemany: the ORM's bulk path
            session.execute(insert(model.__table__), batch[start:start + 5000])   # costs 2×
        counts[model.__tablename__] += len(batch)
        batch.clear()



def _operateur_names(rng: random.Random, deps: list, count: int, national: int) -> list[str]:
    """``count`` distinct opérateur names: the first ``national`` ones national, the rest local
    (a département in the name). When the combinations run out (large scales), the next name
    gets a number rather than drawing forever."""
    names: list[str] = []
    seen: set[str] = set()
    misses = 0
    while len(names) < count:
        name = f"{rng.choice(_ORG)} {rng.choice(_THEME)}"
        if len(names) >= national:
            name += f" {rng.choice(deps).nom}"
        if name in seen:
            misses += 1
            if misses < 50:
                continue
            base, k = name, 2
            while name in seen:
                name, k = f"{base} {k}", k + 1
        misses = 0
        seen.add(name)
        names.append(name)
    return names

def _ascii(value: str) -> str:
    import unicodedata

    return unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode().lower()


def _code_dna(rng, letter, dep, seq, used) -> str:
    """``C7501``…``C7599``, then a random ``C1234``; when those run out (a type past ~10,000
    structures, ×30 and beyond), the département's next number: ``C75100`` (unique, since no
    other code has six characters or more)."""
    prefix = _postal_prefix(dep)[:2]
    misses = 0
    while True:
        n = seq.get((letter, prefix), 0) + 1
        seq[(letter, prefix)] = n
        code = f"{letter}{prefix}{n:02d}" if n < 100 else f"{letter}{rng.randint(0, 9999):04d}"
        if n >= 100 and misses >= 20:
            code = f"{letter}{prefix}{n}"
        if code not in used:
            used.add(code)
            return code
        misses += 1


def _finess(rng, dep: str) -> str:
    return f"{dep[:2]}{rng.randint(0, 9_999_999):07d}"


def _siret(rng) -> str:
    """A Luhn-valid SIRET (14 digits)."""
    digits = [rng.randint(0, 9) for _ in range(13)]
    for check in range(10):
        candidate = digits + [check]
        total = 0
        for i, d in enumerate(reversed(candidate)):
            d = d * 2 if i % 2 else d
            total += d - 9 if d > 9 else d
        if total % 10 == 0:
            return "".join(map(str, candidate))
    raise AssertionError("unreachable")


def _places_and_budgets(rng, rows, ids, sid, kind, places, years) -> int:
    """Places and budgets of every year; returns the places of the latest year."""
    # Around the thresholds (app/pilotage/seuils.py): about one structure in ten costs less than 15 € or
    # more than 25 € a day, one in ten has fewer than 15 or more than 25 places per ETP.
    cout_base = rng.uniform(18.5, 21.5) if kind == TypeStructure.CADA else rng.uniform(16, 23.5)
    if rng.random() < 0.10:
        cout_base = rng.choice([rng.uniform(11, 14.2), rng.uniform(26, 32)])
    etp_ratio = rng.uniform(16, 23.5)
    if rng.random() < 0.10:
        etp_ratio = rng.choice([rng.uniform(9, 14), rng.uniform(26.5, 33)])
    current = places
    for i, year in enumerate(years):
        if i and rng.random() < 0.15:
            current = max(10, current + rng.choice([-10, -5, 5, 10, 15]))
        a_creer = rng.choice([0, 0, 0, 5, 10]) if year == years[-1] else 0
        rows[PlacesAnnee].append({
            "id": ids.take(PlacesAnnee), "structure_id": sid, "annee": year,
            "places_autorisees": current, "pmr": int(current * rng.uniform(0, 0.08)),
            "lgbt": int(current * rng.uniform(0, 0.05)), "fvv_teh": int(current * rng.uniform(0, 0.06)),
            "places_a_creer": a_creer or None,
            "echeance_places_a_creer": dt.date(year + 1, 6, 30) if a_creer else None,
            "places_a_fermer": None, "echeance_places_a_fermer": None,
        })
        days = 366 if year % 4 == 0 else 365
        cout = cout_base * rng.uniform(0.98, 1.03)
        accordee = cout * current * days
        demandee = accordee * rng.uniform(1.0, 1.08)
        etp = round(current / etp_ratio, 2)
        closed = year < years[-1]
        produits = accordee * rng.uniform(1.0, 1.05) if closed else None
        charges = produits * rng.uniform(0.95, 1.05) if closed else None
        resultat = (produits - charges) if closed else None
        rows[BudgetAnnee].append({
            "id": ids.take(BudgetAnnee), "structure_id": sid, "annee": year,
            "etp": _money(etp), "taux_encadrement": _money(current / etp) if rng.random() < 0.6 else None,
            "cout_journalier": _money(accordee / current / days) if rng.random() < 0.6 else None,
            "dotation_demandee": _money(demandee), "dotation_accordee": _money(accordee),
            "total_produits": _money(produits) if closed else None,
            "total_charges": _money(charges) if closed else None,
            "total_charges_proposees": _money(charges * rng.uniform(0.98, 1.0)) if closed else None,
            "cumul_resultats_nets_cpom": None,
            "reprise_etat": _money(-resultat * 0.5) if closed and resultat and resultat > 0 else None,
            "excedent_recupere": None, "excedent_deduit": None,
            "affectation_reserves_fonds_dedies": _money(resultat * 0.5) if closed and resultat and resultat > 0 else None,
            "reserve_investissement": None, "charges_non_reconductibles": None,
            "reserve_compensation_deficits": None, "reserve_couverture_bfr": None,
            "reserve_compensation_amortissements": None, "fonds_dedies": None,
            "report_a_nouveau": None, "autre": None, "commentaire": None,
        })
    return current


def _level(rng, share: float, normal: tuple[float, float], high: tuple[float, float]) -> float:
    """A structure's usual level of a ratio: above its ceiling for ``share`` of structures."""
    return rng.uniform(*high) if rng.random() < share else rng.uniform(*normal)


def _activity(rng, rows, ids, sid, places, today) -> None:
    """24 months around the structure's own levels, so that a minority of structures stays
    above each ceiling over 12 months (vacantes, indisponibles, BPI, déboutés: 3/3/3/4 % of
    places) or under the occupancy floor (85 %): the alerts single out a few, not all."""
    if rng.random() < 0.08:  # under-occupied: far too many vacant places
        vacance = rng.uniform(0.17, 0.28)
    else:
        vacance = _level(rng, 0.08, (0.0, 0.022), (0.045, 0.11))
    indispo = _level(rng, 0.10, (0.0, 0.018), (0.045, 0.09))
    bpi = _level(rng, 0.10, (0.004, 0.022), (0.04, 0.065))
    deboutes = _level(rng, 0.10, (0.004, 0.03), (0.052, 0.085))
    month = dt.date(today.year, today.month, 1)
    for _ in range(24):
        month = (month - dt.timedelta(days=1)).replace(day=1)
        n_indispo = min(places, round(places * indispo * rng.uniform(0.6, 1.4)))
        n_vacantes = min(places - n_indispo, round(places * vacance * rng.uniform(0.7, 1.3)))
        occupees = places - n_indispo - n_vacantes
        row = {
            "id": ids.take(ActiviteMensuelle), "structure_id": sid, "mois": month,
            "places_autorisees": places, "places_occupees": occupees,
            "places_vacantes": n_vacantes, "places_indisponibles": n_indispo,
            "desinsectisation": 0, "remise_en_etat": 0, "sous_occupation": 0, "travaux": 0,
            "presences_indues_bpi": round(places * bpi * rng.uniform(0.7, 1.3)),
            "presences_indues_deboutes": round(places * deboutes * rng.uniform(0.7, 1.3)),
        }
        if n_indispo:
            row[rng.choice(["desinsectisation", "remise_en_etat", "travaux"])] = n_indispo
        rows[ActiviteMensuelle].append(row)


def _addresses(rng, rows, ids, sid, dep, places, years) -> None:
    kind = rng.choices(["COLLECTIF", "DIFFUS", "MIXTE"], weights=[4, 4, 2])[0]
    if kind == "COLLECTIF":
        layout = [Repartition.COLLECTIF] * rng.randint(1, 2)
    elif kind == "DIFFUS":
        layout = [Repartition.DIFFUS] * rng.randint(3, 8)
    else:
        layout = [Repartition.COLLECTIF] + [Repartition.DIFFUS] * rng.randint(2, 5)
    # Addresses usually add up to the structure's places; some drift for the écart alert.
    total = places if rng.random() > 0.08 else int(places * rng.uniform(0.7, 0.88))
    shares = [rng.uniform(1, 3) for _ in layout]
    split = [max(1, int(total * s / sum(shares))) for s in shares]
    split[0] += total - sum(split)
    for rep, n in zip(layout, split):
        aid = ids.take(Adresse)
        rows[Adresse].append({"id": aid, "structure_id": sid, "adresse": _street(rng),
                              "code_postal": _postal(rng, dep), "commune": _commune(rng),
                              "repartition": rep})
        qpv = rng.random() < 0.25
        social = rep == Repartition.DIFFUS and rng.random() < 0.6
        for year in years:
            rows[AdresseAnnee].append({"id": ids.take(AdresseAnnee), "adresse_id": aid,
                                       "annee": year, "places_autorisees": max(0, n),
                                       "qpv": qpv, "logement_social": social})


def _quality(rng, rows, ids, sid, today) -> None:
    for _ in range(rng.choice([0, 1, 1, 2, 3])):
        rows[Controle].append({"id": ids.take(Controle), "structure_id": sid,
                               "date": today - dt.timedelta(days=rng.randint(30, 1800)),
                               "type": rng.choice(list(TypeControle)), "commentaire": None})
    if rng.random() < 0.5:
        notes = {n: Decimal(rng.randint(1, 4)) for n in
                 ("note_personnes", "note_professionnels", "note_structure", "note_globale")}
        rows[Evaluation].append({"id": ids.take(Evaluation), "structure_id": sid,
                                 "date": today - dt.timedelta(days=rng.randint(60, 1800)),
                                 "commentaire": None, **notes})
    for n in range(rng.choice([0, 0, 0, 1, 2])):
        when = today - dt.timedelta(days=rng.randint(10, 900))
        rows[Eig].append({"id": ids.take(Eig), "structure_id": sid,
                          "numero": f"EIG-{sid:05d}-{n + 1}", "date_evenement": when,
                          "date_declaration": when + dt.timedelta(days=rng.randint(0, 5)),
                          "nature": rng.choice(["Violence entre résidents", "Incendie",
                                                "Accident", "Atteinte aux biens",
                                                "Problème sanitaire"])})


def _structure_conventions(rng, rows, ids, structure, debut, today) -> None:
    """The structure's own conventions, renewed one after the other from ``debut``; a few are
    not renewed in time (expired, or ending within months: « À traiter »)."""
    while True:
        length = rng.choice([1, 3, 3, 5])
        fin = dt.date(debut.year + length, debut.month, 1) - dt.timedelta(days=1)
        _convention(rows, ids, TypeConvention.CONVENTION, structure[3], [structure], debut, fin,
                    StatutConvention.ECHUE if fin < today else StatutConvention.SIGNEE)
        if fin >= today or rng.random() < 0.06:
            return
        debut = fin + dt.timedelta(days=1)


def _conventions(rng, rows, ids, structures, scale, year) -> None:
    """CPOMs of the biggest opérateurs (some still in negotiation)."""
    by_op: dict[int, list] = {}
    for s in structures:
        by_op.setdefault(s[3], []).append(s)
    big = sorted(by_op, key=lambda op: -len(by_op[op]))
    for op in big[:40 * scale]:
        members = by_op[op][: rng.randint(2, 10)]
        if len(members) < 2:
            continue
        start = rng.randint(year - 4, year)
        debut, fin = dt.date(start, 1, 1), dt.date(start + 4, 12, 31)
        statut = rng.choices([StatutConvention.SIGNEE, StatutConvention.EN_NEGOCIATION,
                              StatutConvention.BROUILLON], weights=[8, 1, 1])[0]
        _convention(rows, ids, TypeConvention.CPOM, op, members, debut, fin, statut)


def _convention(rows, ids, kind, op, members, debut, fin, statut) -> None:
    cid = ids.take(Convention)
    length = fin.year - debut.year + 1
    montant = sum(m[2] for m in members) * 20 * 365 * length
    rows[Convention].append({"id": cid, "reference": f"{kind.value}-{debut.year}-{cid:05d}",
                             "type": kind, "operateur_id": op, "statut": statut,
                             "date_debut": debut, "date_fin": fin, "montant": _money(montant),
                             "notes": None})
    for m in members:
        rows[ConventionStructure].append({"id": ids.take(ConventionStructure), "convention_id": cid,
                                          "structure_id": m[0], "annee_entree": debut.year,
                                          "annee_sortie": fin.year})


def _advance_sequences(session: Session, models: Iterable[type]) -> None:
    """PostgreSQL: move each id sequence past the pre-assigned ids."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for model in models:
        table = model.__tablename__
        session.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"))
