/** @odoo-module **/
/*
 * Sending a mailing to a customer segment, from the segment's form: run by
 * customer_segmentation_mass_mailing/tests/test_tours.py in English and in
 * Chinese. The first mailing opened is discarded (a user who only looks), the
 * second sent. Steps select by button and field names, never by a label.
 */

import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("customer_segmentation_mass_mailing_tour", {
    steps: () => [
        {
            content: "Open a mailing to the segment's customers",
            trigger: ".o_form_view button[name='action_send_mailing']",
            run: "click",
        },
        {
            content: "The new mailing selects the customers of the segment",
            trigger:
                ".o_mass_mailing_mailing_form .o_field_widget[name='customer_segment_id']",
        },
        {
            // as a user sees it: discarding while the editor still loads
            // trips over Odoo's own mailing editor
            content: "Its editor is ready: the templates show",
            trigger: "[name='body_arch'] :iframe .o_mail_theme_selector_new",
        },
        {
            content: "Only looking: discard it, back to the segment",
            trigger: ".o_form_status_indicator .o_form_button_cancel",
            run: "click",
        },
        {
            content: "Open it again",
            trigger: ".o_form_view button[name='action_send_mailing']",
            run: "click",
        },
        {
            content: "The new mailing selects the customers of the segment again",
            trigger:
                ".o_mass_mailing_mailing_form .o_field_widget[name='customer_segment_id']",
        },
        {
            content: "Its editor is ready again",
            trigger: "[name='body_arch'] :iframe .o_mail_theme_selector_new",
        },
        {
            content: "Send it now (which saves it)",
            trigger: ".o_mass_mailing_mailing_form button[name='action_launch']",
            run: "click",
        },
        {
            content: "Confirm the sending",
            trigger: ".modal .modal-footer .btn-primary",
            run: "click",
        },
        {
            content: "The mailing is queued: it can be cancelled",
            trigger: ".o_mass_mailing_mailing_form button[name='action_cancel']",
        },
    ],
});
