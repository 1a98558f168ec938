"""Dialogue budgétaire: the list of a territory's dialogues, the screen of one dialogue (the
agent's analysis and proposals, or the opérateur's request and answers), the campaign's
opening, the dashboard, the Excel export of the proposals and the administration's templates.

Every POST carries the CSRF token (``app.web.hardening``) and the version the user loaded; each
step is one command of ``app.campagnes.dialogue``, which asks the write gate first.
"""
from __future__ import annotations

import datetime as dt
import io
from typing import Any

from flask import abort, flash, g, jsonify, redirect, request, send_file, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import generate_csrf
from sqlalchemy import func, select

from app.campagnes import dialogue as dlg
from app.campagnes import dialogue_compte as ca
from app.campagnes.dialogue_avenant import convention_of, draft_avenant
from app.campagnes.dialogue_classeur import read_sheet, write_sheet
from app.documents.dialogue import (AVENANT, NOTIFICATION, check_template, clear_generation_error, decide,
                                    notification_state)
from app.campagnes.dialogue_suivi import analyse, dashboard, export_proposals, late, set_ceilings
from app.web.errors import refused_page
from app.documents.storage import get_storage
from app.extensions import db
from app.gate import STATE_FIELDS, Gate, WriteRefused
from app.scope import choosable_condition, condition_for, current_scope, find_inside
from app.jobs.queue import enqueue
from models import Departement, Region, Structure
from models.dialogue import DialogueBudgetaire, ModeleDocument, PlafondCout
from models.enums import TypeStructure

from .campagnes import XLSX, _ids

#: A dialogue's own fields an opérateur may not send (the gate refuses them with 403).
STATE = STATE_FIELDS["dialogue_budgetaire"]


def _dialogue(pk: int) -> DialogueBudgetaire:
    """A dialogue of the user's territory, else 404."""
    return find_inside(db.session, DialogueBudgetaire, pk, current_scope()) or abort(404)


def _year() -> int:
    raw = request.args.get("annee", "")
    if raw.isdigit() and 2000 <= int(raw) <= 2100:
        return int(raw)
    latest = db.session.scalar(select(func.max(DialogueBudgetaire.annee)).where(
        condition_for(DialogueBudgetaire, current_scope())))
    return latest or dt.date.today().year + 1


def _posted(prefix: str) -> dict[str, Any]:
    """The form's values ``<prefix><code>`` by line code (unknown codes kept: refused later)."""
    return {key[len(prefix):]: value for key, value in request.form.items() if key.startswith(prefix)}


def _generate(dialogue: DialogueBudgetaire) -> None:
    """Hand the notification of a decided dialogue to the queue (ids only: the job reads the
    agent's scope from the account)."""
    clear_generation_error(dialogue.id)
    enqueue("notification", dialogue_id=dialogue.id, user_id=g.user.id)


def _tampered() -> dict[str, Any]:
    """State fields a request sends where it should not: handed to the gate, which refuses them."""
    return {key: value for key, value in request.form.items() if key in STATE}


class DialogueView(BaseView):
    """The yearly budget dialogue between the opérateurs and the State."""

    route_base = "/dialogue"
    bhasile_area = "budget"
    default_view = "index"
    base_permissions = ["can_list", "can_show", "can_export", "can_dashboard", "can_deposer",
                        "can_proposer", "can_repondre", "can_decider", "can_ouvrir", "can_modeles"]

    def _step(self, pk: int, run) -> Any:
        """Run one step; refusals are French pages (403/404/409 said as 400), mistakes flashed."""
        dialogue = _dialogue(pk)
        try:
            run(dialogue)
        except WriteRefused as exc:
            db.session.rollback()
            return refused_page(exc)
        except dlg.DialogueError as exc:
            db.session.rollback()
            for message in exc.messages:
                flash(message, "danger")
        else:
            return None
        return redirect(url_for(".show", pk=pk))

    @expose("/")
    @has_access
    @permission_name("list")
    def index(self):
        scope, annee = current_scope(), _year()
        rows = db.session.execute(
            select(DialogueBudgetaire, Structure).join(Structure, Structure.id == DialogueBudgetaire.structure_id)
            .where(DialogueBudgetaire.annee == annee, condition_for(DialogueBudgetaire, scope))
            .order_by(Structure.code_dna)).all()
        today = dt.date.today()
        return self.render_template("bhasile/dialogue/index.html", rows=rows, annee=annee,
                                    late={d.id: late(d, today) for d, _s in rows},
                                    is_operateur=scope.is_operateur, title=_("Dialogue budgétaire %(y)s", y=annee))

    @expose("/<int:pk>/")
    @has_access
    @permission_name("show")
    def show(self, pk: int):
        dialogue, scope = _dialogue(pk), current_scope()
        template = "operateur.html" if scope.is_operateur else "agent.html"
        avenant_du = (not scope.is_operateur and dialogue.statut.value == "decide"
                      and dialogue.avenant_document_id is None and convention_of(db.session, dialogue) is not None)
        return self.render_template(f"bhasile/dialogue/{template}", d=dialogue, lignes=dlg.LIGNES,
                                    groupes=dlg.GROUPES, analysis=analyse(db.session, dialogue),
                                    retard=late(dialogue, dt.date.today()), csrf=generate_csrf(), ca=ca,
                                    notification=notification_state(dialogue), avenant_du=avenant_du,
                                    title=_("Dialogue budgétaire %(y)s — %(c)s", y=dialogue.annee,
                                            c=dialogue.structure.code_dna))

    @expose("/<int:pk>/deposer", methods=["POST"])
    @has_access
    @permission_name("deposer")
    def deposer(self, pk: int):
        def run(d):
            dlg.file_budget(db.session, current_scope(), d, _posted("demande_"), request.form.get("version"),
                            g.user.username, "formulaire", request.form.get("commentaire", ""), _tampered())
            flash(_("Budget prévisionnel déposé."), "success")
        return self._step(pk, run) or redirect(url_for(".show", pk=pk))

    @expose("/<int:pk>/classeur.xlsx")
    @has_access
    @permission_name("show")
    def classeur(self, pk: int):
        dialogue, out = _dialogue(pk), io.BytesIO()
        write_sheet(dialogue, out)
        out.seek(0)
        return send_file(out, mimetype=XLSX, as_attachment=True,
                         download_name=f"budget-previsionnel-{dialogue.structure.code_dna}-{dialogue.annee}.xlsx")

    @expose("/<int:pk>/classeur", methods=["POST"])
    @has_access
    @permission_name("deposer")
    def deposer_classeur(self, pk: int):
        def run(d):
            upload = request.files.get("fichier")
            if upload is None or not upload.filename:
                raise dlg.DialogueError([_("Choisissez le classeur à déposer.")])
            values = read_sheet(d, upload.read(2 * 1024 * 1024 + 1))
            dlg.file_budget(db.session, current_scope(), d, values, request.form.get("version"),
                            g.user.username, "classeur", "", _tampered())
            flash(_("Budget prévisionnel déposé depuis le classeur."), "success")
        return self._step(pk, run) or redirect(url_for(".show", pk=pk))

    @expose("/<int:pk>/proposer", methods=["POST"])
    @has_access
    @permission_name("proposer")
    def proposer(self, pk: int):
        def run(d):
            amounts, motifs = _posted("propose_"), _posted("motif_")
            wanted = {code: (value, motifs.get(code)) for code, value in amounts.items() if str(value).strip()}
            dlg.propose(db.session, current_scope(), d, wanted, request.form.get("version"), g.user.username)
            flash(_("Propositions envoyées à l'opérateur."), "success")
        return self._step(pk, run) or redirect(url_for(".show", pk=pk))

    @expose("/<int:pk>/repondre", methods=["POST"])
    @has_access
    @permission_name("repondre")
    def repondre(self, pk: int):
        def run(d):
            choices, amounts, motifs = _posted("reponse_"), _posted("contre_"), _posted("motif_reponse_")
            answers = {code: (choice, amounts.get(code), motifs.get(code)) for code, choice in choices.items()}
            dlg.answer(db.session, current_scope(), d, answers, request.form.get("version"), g.user.username,
                       _tampered())
            flash(_("Réponses envoyées aux services de l'État."), "success")
        return self._step(pk, run) or redirect(url_for(".show", pk=pk))

    @expose("/<int:pk>/decider", methods=["POST"])
    @has_access
    @permission_name("decider")
    def decider(self, pk: int):
        def run(d):
            decide(db.session, current_scope(), d, _posted("retenu_"), request.form.get("version"),
                   g.user.username)
            self._avenant(d)  # first: the notification's job then finds the dialogue as it stays
            _generate(d)
            flash(_("Décision enregistrée ; la notification %(n)s est en cours de génération.",
                    n=d.numero), "success")
        return self._step(pk, run) or redirect(url_for(".show", pk=pk))

    @staticmethod
    def _avenant(d, version=None) -> None:
        """The draft avenant of a structure under convention, after its decision: a failure
        keeps the decision and says so (the agent drafts it again from the dialogue)."""
        try:
            doc = draft_avenant(db.session, get_storage(), current_scope(), d, version)
        except (dlg.DialogueError, WriteRefused) as exc:
            db.session.rollback()
            reasons = exc.messages if isinstance(exc, dlg.DialogueError) else [e.message for e in exc.errors]
            flash(_("L'avenant n'a pas pu être rédigé : %(e)s", e=" ".join(reasons)), "warning")
        else:
            if doc is not None:
                flash(_("Projet d'avenant rédigé (%(n)s) et rangé dans les documents de la structure.",
                        n=doc.nom_original), "success")

    @expose("/<int:pk>/avenant", methods=["POST"])
    @has_access
    @permission_name("decider")
    def avenant(self, pk: int):
        """Draft again the avenant a decision could not (a broken template, LibreOffice down)."""
        def run(d):
            if draft_avenant(db.session, get_storage(), current_scope(), d, request.form.get("version")) is None:
                raise dlg.DialogueError([_("La structure n'est sous aucune convention ni aucun CPOM signé.")])
            flash(_("Projet d'avenant rédigé."), "success")
        return self._step(pk, run) or redirect(url_for(".show", pk=pk))

    @expose("/<int:pk>/compte", methods=["POST"])
    @has_access
    @permission_name("deposer")
    def deposer_compte(self, pk: int):
        """The opérateur files the year's compte administratif (``app.campagnes.dialogue_compte``)."""
        def run(d):
            ca.file_compte(db.session, current_scope(), d, _posted("realise_"), request.form.get("affectation"),
                           request.form.get("ca_commentaire", ""), request.form.get("version"),
                           g.user.username, _tampered())
            flash(_("Compte administratif déposé."), "success")
        return self._step(pk, run) or redirect(url_for(".show", pk=pk))

    @expose("/<int:pk>/affectation", methods=["POST"])
    @has_access
    @permission_name("decider")
    def arreter_compte(self, pk: int):
        """The agent accepts or amends the affectation du résultat."""
        def run(d):
            ca.settle_compte(db.session, current_scope(), d, request.form.get("affectation"),
                             request.form.get("motif_affectation"), request.form.get("version"), g.user.username)
            flash(_("Affectation du résultat arrêtée."), "success")
        return self._step(pk, run) or redirect(url_for(".show", pk=pk))

    @expose("/<int:pk>/notification", methods=["POST"])
    @has_access
    @permission_name("decider")
    def notification(self, pk: int):
        """Generate again a notification whose generation failed (a template fixed since…)."""
        dialogue = _dialogue(pk)
        if dialogue.decide_le is not None and dialogue.document_id is None:
            _generate(dialogue)
            flash(_("La notification est en cours de génération."), "success")
        return redirect(url_for(".show", pk=pk))

    @expose("/<int:pk>/notification.json")
    @has_access
    @permission_name("show")
    def notification_status(self, pk: int):
        """The notification's state for the dialogue page's polling (bhasile/poll.js)."""
        state = notification_state(_dialogue(pk)) or {"statut": "aucune", "document_id": None, "erreur": None}
        state["url"] = (url_for("DocumentView.download", doc_id=state["document_id"])
                        if state["document_id"] else None)
        return jsonify(state)

    @expose("/ouvrir", methods=["GET", "POST"])
    @has_access
    @permission_name("ouvrir")
    def ouvrir(self):
        scope, form = current_scope(), request.form
        annee = dt.date.today().year + 1
        if request.method == "POST":
            try:
                annee = int(form.get("annee", "")) if form.get("annee", "").isdigit() else 0
                if not 2000 <= annee <= 2100:
                    raise dlg.DialogueError([_("Année invalide.")])
                echeance = dt.date.fromisoformat(form["echeance"]) if form.get("echeance") else None
                echeance_ca = dt.date.fromisoformat(form["echeance_ca"]) if form.get("echeance_ca") else None
                delai = int(form.get("delai") or dlg.DELAI_REPONSE) if (form.get("delai") or "8").isdigit() else 0
                ids, garbage = _ids(form.getlist("departement"))
                campagne = dlg.open_dialogues(db.session, scope, annee, sorted(ids | ({-1} if garbage else set())),
                                              echeance, g.user.username, delai, echeance_ca)
            except WriteRefused as exc:
                return refused_page(exc)
            except ValueError as exc:  # DialogueError, CampagneError, a malformed date
                db.session.rollback()
                for message in getattr(exc, "messages", [_("Échéance invalide.")]):
                    flash(message, "danger")
            else:
                flash(_("Campagne budgétaire ouverte : %(n)s structures.", n=len(campagne.taches)), "success")
                return redirect(url_for(".index", annee=annee))
        deps = db.session.scalars(select(Departement).where(choosable_condition(Departement, scope))
                                  .order_by(Departement.code)).all()
        return self.render_template("bhasile/dialogue/ouvrir.html", deps=deps, annee=annee,
                                    echeance=dlg.default_echeance(annee), delai=dlg.DELAI_REPONSE,
                                    csrf=generate_csrf(), title=_("Ouvrir la campagne budgétaire"))

    @expose("/tableau-de-bord")
    @has_access
    @permission_name("dashboard")
    def tableau(self):
        scope, annee = current_scope(), _year()
        niveau, code = request.args.get("niveau", "national"), request.args.get("code", "")
        condition, label = None, _("National") if scope.national else _("Tout mon périmètre")
        if niveau == "departement":
            dep = db.session.scalar(select(Departement).where(Departement.code == code[:3])) or abort(404)
            condition, label = Structure.departement_id == dep.id, f"{dep.code} {dep.nom}"
        elif niveau == "region":
            region = db.session.scalar(select(Region).where(Region.code == code[:3])) or abort(404)
            condition = Structure.departement_id.in_(select(Departement.id).where(Departement.region_id == region.id))
            label = region.nom
        board = dashboard(db.session, scope, annee, condition)
        deps = db.session.scalars(select(Departement).where(condition_for(Departement, scope))
                                  .order_by(Departement.code)).all()
        regions = db.session.scalars(select(Region).where(condition_for(Region, scope)).order_by(Region.code)).all()
        return self.render_template("bhasile/dialogue/tableau.html", board=board, annee=annee, label=label,
                                    deps=deps, regions=regions, niveau=niveau, code=code,
                                    title=_("Dialogue budgétaire %(y)s : tableau de bord", y=annee))

    @expose("/export.xlsx")
    @has_access
    @permission_name("export")
    def export(self):
        annee, out = _year(), io.BytesIO()
        export_proposals(db.session, current_scope(), annee, out)
        out.seek(0)
        return send_file(out, mimetype=XLSX, as_attachment=True,
                         download_name=f"propositions-budgetaires-{annee}.xlsx")

    @expose("/modeles", methods=["GET", "POST"])
    @has_access
    @permission_name("modeles")
    def modeles(self):
        scope = current_scope()
        if not scope.national:  # the central administration's templates
            abort(404)
        if request.method == "POST":
            refused = Gate(scope, db.session).check(ModeleDocument, None, {}, rules=False, area="campagne")
            if refused:
                return refused_page(WriteRefused(refused))
            upload = request.files.get("fichier")
            data = upload.read(5 * 1024 * 1024) if upload is not None else b""
            try:
                if not data:
                    raise dlg.DialogueError([_("Choisissez un modèle Word (.docx).")])
                nature = request.form.get("nature") or NOTIFICATION
                if nature not in (NOTIFICATION, AVENANT):
                    raise dlg.DialogueError([_("Nature de modèle inconnue.")])
                check_template(data, nature)
            except dlg.DialogueError as exc:
                for message in exc.messages:
                    flash(message, "danger")
            else:
                db.session.add(ModeleDocument(nature=nature, nom_original=(upload.filename or "modele.docx")[:255],
                                              contenu=data, uploaded_by=g.user.username))
                db.session.commit()
                flash(_("Modèle enregistré : il sert aux prochaines décisions."), "success")
            return redirect(url_for(".modeles"))
        modeles = db.session.scalars(select(ModeleDocument).order_by(ModeleDocument.uploaded_at.desc())).all()
        plafonds = db.session.scalars(select(PlafondCout).order_by(PlafondCout.annee.desc(), PlafondCout.type)).all()
        return self.render_template("bhasile/dialogue/modeles.html", modeles=modeles, csrf=generate_csrf(),
                                    plafonds=plafonds, types=list(TypeStructure), annee=dt.date.today().year + 1,
                                    title=_("Modèles de documents"))


    @expose("/plafonds", methods=["POST"])
    @has_access
    @permission_name("modeles")
    def plafonds(self):
        """The yearly ceilings of the coût journalier per type (the central administration's)."""
        scope = current_scope()
        if not scope.national:
            abort(404)
        refused = Gate(scope, db.session).check(PlafondCout, None, {}, rules=False, area="campagne")
        if refused:
            return refused_page(WriteRefused(refused))
        try:
            set_ceilings(db.session, request.form.get("annee", ""),
                         {t.value: request.form.get(f"plafond_{t.value}", "") for t in TypeStructure})
        except dlg.DialogueError as exc:
            db.session.rollback()
            for message in exc.messages:
                flash(message, "danger")
        else:
            flash(_("Plafonds enregistrés."), "success")
        return redirect(url_for(".modeles"))


MENU_ORDER = 86


def register(add, appbuilder) -> None:
    add(DialogueView, "Dialogue budgétaire", _l("Dialogue budgétaire"), "Campagnes",
        _l("Campagnes de collecte"), icon="fa-handshake-o")
