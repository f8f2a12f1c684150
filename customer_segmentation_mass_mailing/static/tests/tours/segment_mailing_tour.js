/** @odoo-module **/
/*
 * Sending a mailing to a customer segment, from the segment's form: run by
 * customer_segmentation_mass_mailing/tests/test_tours.py in English and in
 * Chinese. Steps select by button and field names, never by a label.
 */

import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("customer_segmentation_mass_mailing_tour", {
    steps: () => [
        {
            content: "Send a mailing to the segment's customers",
            trigger: ".o_form_view button[name='action_send_mailing']",
            run: "click",
        },
        {
            content: "The draft mailing selects the customers of the segment",
            trigger:
                ".o_mass_mailing_mailing_form .o_field_widget[name='customer_segment_id']",
        },
        {
            content: "Send it now",
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
